import { describe, expect, it } from 'vitest';
import { deviceLabel, fromBase64Url, toBase64Url } from './webauthn';

describe('base64url', () => {
  it('round-trips bytes without padding or + and /', () => {
    const bytes = new Uint8Array([0, 251, 255, 62, 63, 1, 2]);
    const text = toBase64Url(bytes);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect([...fromBase64Url(text)]).toEqual([...bytes]);
  });

  it('decodes what py_webauthn sends', () => {
    expect(new TextDecoder().decode(fromBase64Url('aGVsbG8'))).toBe('hello');
  });
});

describe('deviceLabel', () => {
  it('names a phone by system and browser', () => {
    const pixel =
      'Mozilla/5.0 (Linux; Android 11; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36';
    expect(deviceLabel(pixel)).toBe('Android · Chrome');
  });

  it('says nothing when it recognises nothing', () => {
    expect(deviceLabel('curl/8.0')).toBe('');
  });
});
