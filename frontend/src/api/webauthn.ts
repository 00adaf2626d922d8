/**
 * Passkey ceremonies. Uses the WebAuthn JSON helpers (`parse…OptionsFromJSON`, `toJSON()`) when the
 * browser has them, and converts base64url by hand otherwise.
 */

type Json = Record<string, unknown>;

export function toBase64Url(bytes: ArrayBuffer | ArrayBufferView): string {
  const view =
    bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let binary = '';
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const hasJsonHelpers = (): boolean =>
  typeof PublicKeyCredential !== 'undefined' &&
  typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function' &&
  typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';

export function passkeysSupported(): boolean {
  return typeof PublicKeyCredential !== 'undefined' && !!navigator.credentials;
}

function creationOptions(json: PublicKeyCredentialCreationOptionsJSON): PublicKeyCredentialCreationOptions {
  if (hasJsonHelpers()) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  // the JSON and binary dictionaries differ only in their base64url members (the server sends no extensions)
  const { challenge, user, excludeCredentials, extensions: _extensions, ...rest } = json;
  return {
    ...rest,
    challenge: fromBase64Url(challenge),
    user: { ...user, id: fromBase64Url(user.id) },
    excludeCredentials: (excludeCredentials ?? []).map((c) => ({ ...c, id: fromBase64Url(c.id) })),
  } as unknown as PublicKeyCredentialCreationOptions;
}

function requestOptions(json: PublicKeyCredentialRequestOptionsJSON): PublicKeyCredentialRequestOptions {
  if (hasJsonHelpers()) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  const { challenge, allowCredentials, extensions: _extensions, ...rest } = json;
  return {
    ...rest,
    challenge: fromBase64Url(challenge),
    allowCredentials: (allowCredentials ?? []).map((c) => ({ ...c, id: fromBase64Url(c.id) })),
  } as unknown as PublicKeyCredentialRequestOptions;
}

function credentialJson(credential: PublicKeyCredential): Json {
  if (typeof credential.toJSON === 'function') return credential.toJSON() as Json;
  const r = credential.response;
  const response: Json = { clientDataJSON: toBase64Url(r.clientDataJSON) };
  if (r instanceof AuthenticatorAttestationResponse) {
    response.attestationObject = toBase64Url(r.attestationObject);
    response.transports = r.getTransports?.() ?? [];
  } else {
    const assertion = r as AuthenticatorAssertionResponse;
    response.authenticatorData = toBase64Url(assertion.authenticatorData);
    response.signature = toBase64Url(assertion.signature);
    response.userHandle = assertion.userHandle ? toBase64Url(assertion.userHandle) : null;
  }
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment,
    clientExtensionResults: credential.getClientExtensionResults(),
    response,
  };
}

export async function createPasskey(json: PublicKeyCredentialCreationOptionsJSON): Promise<Json> {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(json) });
  return credentialJson(credential as PublicKeyCredential);
}

export async function getPasskey(json: PublicKeyCredentialRequestOptionsJSON): Promise<Json> {
  const credential = await navigator.credentials.get({ publicKey: requestOptions(json) });
  return credentialJson(credential as PublicKeyCredential);
}

const SYSTEMS: [RegExp, string][] = [
  [/Android/, 'Android'],
  [/iPhone|iPad/, 'iOS'],
  [/Windows/, 'Windows'],
  [/CrOS/, 'ChromeOS'],
  [/Mac OS X/, 'macOS'],
  [/Linux/, 'Linux'],
];
const BROWSERS: [RegExp, string][] = [
  [/Edg\//, 'Edge'],
  [/SamsungBrowser/, 'Samsung Internet'],
  [/CriOS|Chrome|Chromium/, 'Chrome'],
  [/FxiOS|Firefox/, 'Firefox'],
  [/Safari/, 'Safari'],
];

/** "Android · Chrome" from a user agent; '' when nothing is recognised. Names passkeys and sessions. */
export function deviceLabel(userAgent: string): string {
  const find = (table: [RegExp, string][]) => table.find(([re]) => re.test(userAgent))?.[1];
  return [find(SYSTEMS), find(BROWSERS)].filter(Boolean).join(' · ');
}
