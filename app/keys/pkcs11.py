"""The PKCS#11 adapter of the ``Hsm`` port: the only module that imports ``pkcs11``.

Threading: python-pkcs11 0.10.1 still calls ``C_Initialize(NULL)`` (checked in its ``_pkcs11.pyx``,
``lib.initialize``), which tells the module "this application uses no threads", and it releases the
GIL inside ``C_Sign``.  SoftHSM then runs without mutexes, and two threads inside the module at once
corrupt its heap.  So every PKCS#11 call of this process that goes through one module is serialised
by one lock *per module* (not per token: the whole library is unprotected).

Sessions: the login state of a token is shared by every session of a process, a second ``C_Login``
raises ``UserAlreadyLoggedIn`` and closing a session logs the whole process out.  So there is one
logged-in session per (process, module, token), shared by every ``Pkcs11Hsm`` instance that names
the same token, opened lazily and dropped (to be reopened by the next call) when it dies.  A forked
child re-initialises the module it inherited instead of reusing its parent's handles.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pkcs11
import structlog
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11x
from pkcs11.util.ec import encode_named_curve_parameters

from app.errors import BadRequest
from app.keys.hsm import (
    DigestSigner,
    HashAlgorithm,
    HsmError,
    HsmStatus,
    HsmUnavailable,
    KeyAlgorithm,
    KeyAttributes,
    KeyInfo,
    KeyNotFound,
    SignScheme,
)
from app.keys.x509 import P256_PARAMS, default_scheme, digest_info, ec_spki, ecdsa_raw_to_der, rsa_spki

log = structlog.get_logger(__name__)
T = TypeVar("T")

RSA_BITS = {KeyAlgorithm.RSA2048: 2048, KeyAlgorithm.RSA3072: 3072}
_HASH_MECHANISMS = {
    HashAlgorithm.SHA256: (pkcs11.Mechanism.SHA256, pkcs11.MGF.SHA256),
    HashAlgorithm.SHA384: (pkcs11.Mechanism.SHA384, pkcs11.MGF.SHA384),
    HashAlgorithm.SHA512: (pkcs11.Mechanism.SHA512, pkcs11.MGF.SHA512),
}

# the session (or the token behind it) is gone: drop it, the next call opens a new one
_SESSION_LOST: tuple[type[Exception], ...] = (
    p11x.SessionHandleInvalid,
    p11x.SessionClosed,
    p11x.DeviceRemoved,
    p11x.DeviceError,
    p11x.TokenNotPresent,
    p11x.TokenNotRecognised,
    p11x.UserNotLoggedIn,
)
_PIN_REFUSED: tuple[type[Exception], ...] = (
    p11x.PinIncorrect,
    p11x.PinInvalid,
    p11x.PinLenRange,
    p11x.PinLocked,
    p11x.PinExpired,
    p11x.UserPinNotInitialized,
)
# Seen when another process creates or destroys objects in the same SoftHSM token directory at the
# same moment (SoftHSM re-reads the directory): a handle goes invalid, a key is briefly not found, a
# generation fails.  Measured with 1 process churning keys and 4 processes opening sessions: ~3 % of
# calls failed once; with four retries up to 0.76 s apart almost none failed for good.  So such calls
# are retried (lock released in between), and "no such key" is believed only when every attempt saw it.
_TRANSIENT: tuple[type[Exception], ...] = (
    p11x.KeyHandleInvalid,
    p11x.ObjectHandleInvalid,
    p11x.FunctionFailed,
    p11x.GeneralError,
    p11x.MultipleObjectsReturned,  # SoftHSM briefly lists an object twice while re-reading
)
RETRY_DELAYS = (0.01, 0.05, 0.2, 0.5)


class _Missing(Exception):
    """A lookup found no object with the key's id (maybe only for now)."""


class _Retry(Exception):
    def __init__(self, final: Exception, reason: str) -> None:
        super().__init__(reason)
        self.final, self.reason = final, reason


@dataclass
class _Key:
    private: Any  # pkcs11.PrivateKey bound to the connection's current session
    info: KeyInfo


@dataclass
class _Connection:
    """The one session of this process on one token, and what hangs off it."""

    module_path: str
    token_label: str
    lock: threading.Lock
    session: Any = None  # pkcs11.Session
    pin: str | None = None  # the PIN this session logged in with, to check other instances' PINs
    keys: dict[str, _Key] = field(default_factory=dict)

    def drop(self) -> None:
        """Forget the session and every handle bound to it (the token may already be gone)."""
        session, self.session, self.pin = self.session, None, None
        self.keys.clear()
        if session is not None:
            with contextlib.suppress(Exception):
                session.close()


_registry_lock = threading.Lock()
_module_locks: dict[tuple[int, str], threading.Lock] = {}
_connections: dict[tuple[int, str, str], _Connection] = {}
_lib_pids: dict[str, int] = {}
# modules to finalise and initialise again before the next session: SoftHSM reads its token directory
# at C_Initialize, so a token that went away and came back is only seen again after a re-initialise
_stale_modules: set[tuple[int, str]] = set()


def _connection(module_path: str, token_label: str) -> _Connection:
    pid = os.getpid()
    with _registry_lock:
        # a forked child inherits the parent's entries (and maybe a held lock): never reuse them
        for stale in [k for k in _connections if k[0] != pid]:
            del _connections[stale]
        for stale_lock in [k for k in _module_locks if k[0] != pid]:
            del _module_locks[stale_lock]
        lock = _module_locks.setdefault((pid, module_path), threading.Lock())
        key = (pid, module_path, token_label)
        conn = _connections.get(key)
        if conn is None:
            conn = _connections[key] = _Connection(module_path, token_label, lock)
        return conn


def _load_module(module_path: str) -> Any:
    """``pkcs11.lib`` caches one library per path; after fork, or after the token went away, it must
    be initialised again (the caller holds the module lock)."""
    lib = pkcs11.lib(module_path)
    pid = os.getpid()
    if (pid, module_path) in _stale_modules:
        with _registry_lock:  # every session of this module dies with the finalise
            same = [c for k, c in _connections.items() if k[0] == pid and k[1] == module_path]
        for conn in same:
            conn.drop()
        with contextlib.suppress(p11x.PKCS11Error):
            lib.finalize()
        lib.initialize()  # fails while the token directory is gone: stays stale, tried again next time
        _stale_modules.discard((pid, module_path))
        log.info("hsm_module_reinitialised", module=module_path, pid=pid)
    elif _lib_pids.get(module_path, pid) != pid:
        with contextlib.suppress(p11x.PKCS11Error):
            lib.finalize()
        lib.initialize()
    _lib_pids[module_path] = pid
    return lib


class Pkcs11Hsm(DigestSigner):
    """A token found by label, used through one logged-in session per process."""

    def __init__(self, module_path: str, token_label: str, user_pin: str | None) -> None:
        self.module_path = module_path
        self.token_label = token_label
        self._user_pin = user_pin
        self._conn = _connection(module_path, token_label)

    def __repr__(self) -> str:  # the PIN must never reach a log line through repr()
        return f"Pkcs11Hsm(module_path={self.module_path!r}, token_label={self.token_label!r})"

    # ---- plumbing ---------------------------------------------------------------------------

    def _unavailable(self, reason: str) -> HsmUnavailable:
        return HsmUnavailable(
            f"The HSM token {self.token_label!r} (module {self.module_path}) is unavailable: {reason}."
        )

    def _open_locked(self) -> Any:
        conn = self._conn
        if not self._user_pin:
            raise self._unavailable("no user PIN is configured (HSM_USER_PIN)")
        if conn.session is not None:
            # another instance logged in already: accept only the same PIN (compared in constant time)
            if not hmac.compare_digest((self._user_pin or "").encode(), (conn.pin or "").encode()):
                raise self._unavailable("the user PIN was refused")
            return conn.session
        try:
            lib = _load_module(self.module_path)
        except p11x.PKCS11Error as exc:
            raise self._unavailable("the PKCS#11 module cannot be loaded") from exc
        try:
            token = lib.get_token(token_label=self.token_label)
        except p11x.NoSuchToken as exc:
            _stale_modules.add((os.getpid(), self.module_path))  # it may be plugged in later
            # retried too: SoftHSM briefly lists no token while re-reading a directory being written
            raise _Retry(self._unavailable("no token with this label is present"), "NoSuchToken") from exc
        except p11x.PKCS11Error as exc:
            _stale_modules.add((os.getpid(), self.module_path))
            error = self._unavailable(f"the token cannot be listed ({type(exc).__name__})")
            if isinstance(exc, _TRANSIENT):  # SoftHSM re-reading a directory another process writes
                raise _Retry(error, type(exc).__name__) from exc
            raise error from exc
        try:
            session = token.open(rw=True, user_pin=self._user_pin)
        except _PIN_REFUSED as exc:
            raise self._unavailable("the user PIN was refused") from exc
        except p11x.UserAlreadyLoggedIn as exc:
            raise self._unavailable(
                "another session of this process is logged in; Signet keeps one session per process"
            ) from exc
        except p11x.PKCS11Error as exc:
            error = self._unavailable(f"no session could be opened ({type(exc).__name__})")
            if isinstance(exc, _TRANSIENT):
                raise _Retry(error, type(exc).__name__) from exc
            raise error from exc
        conn.session, conn.pin = session, self._user_pin
        log.info("hsm_session_opened", token=self.token_label, pid=os.getpid())
        return session

    def _call(self, what: str, operation: Callable[[Any], T]) -> T:
        """Run ``operation(session)`` under the module lock, retrying transient failures (see
        ``_TRANSIENT``) with the lock released in between, and map PKCS#11 errors to ours."""
        delays = (*RETRY_DELAYS, None)
        for attempt, delay in enumerate(delays, start=1):
            try:
                return self._call_once(what, operation)
            except _Retry as retry:
                if delay is None:
                    raise retry.final from retry.__cause__
                log.info("hsm_retry", operation=what, error=retry.reason, delay=delay)
                if retry.reason == "NoSuchKey" and attempt == len(delays) - 1:
                    # SoftHSM's view of a directory other processes write can stay wrong (a key this
                    # process made is missing from it, not from the token): look once more afresh
                    with self._conn.lock:
                        self._forget_token_locked("NoSuchKey")
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _call_once(self, what: str, operation: Callable[[Any], T]) -> T:
        conn = self._conn
        with conn.lock:
            session = self._open_locked()
            try:
                return operation(session)
            except (KeyNotFound, _Missing) as exc:
                # a key that is not there: really gone, or the whole token is (SoftHSM then shows an
                # empty token through the old session, and lists no token at all)
                if not self._token_listed_locked():
                    self._forget_token_locked("TokenNotPresent")
                    raise self._unavailable("the token is not present") from None
                if isinstance(exc, KeyNotFound):
                    raise
                raise _Retry(KeyNotFound(), "NoSuchKey") from None
            except _TRANSIENT as exc:
                conn.keys.clear()  # a stale handle is one cause: look keys up afresh
                error = HsmError(f"The HSM refused to {what} ({type(exc).__name__}).")
                raise _Retry(error, type(exc).__name__) from exc
            except _SESSION_LOST as exc:
                self._forget_token_locked(type(exc).__name__)
                raise self._unavailable(f"the session was lost ({type(exc).__name__})") from exc
            except _PIN_REFUSED as exc:
                conn.drop()
                raise self._unavailable("the user PIN was refused") from exc
            except p11x.PKCS11Error as exc:
                raise HsmError(f"The HSM refused to {what} ({type(exc).__name__}).") from exc

    def _token_listed_locked(self) -> bool:
        try:
            pkcs11.lib(self.module_path).get_token(token_label=self.token_label)
        except p11x.PKCS11Error:
            return False
        return True

    def _forget_token_locked(self, error: str) -> None:
        """Drop the session and its handles, and re-initialise the module before the next one."""
        self._conn.drop()
        _stale_modules.add((os.getpid(), self.module_path))
        log.warning("hsm_session_lost", token=self.token_label, error=error)

    def _key_locked(self, session: Any, key_id: str) -> _Key:
        cached = self._conn.keys.get(key_id)
        if cached is not None:
            return cached
        try:
            raw_id = bytes.fromhex(key_id)
        except ValueError:
            raise KeyNotFound() from None
        try:
            private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=raw_id)
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=raw_id)
        except p11x.NoSuchKey:
            raise _Missing() from None
        try:
            info = self._info(key_id, private, public)
        except AttributeError as exc:
            # python-pkcs11 hands out a bare Object when it could not read the object's class: the
            # handle went invalid under it (see _TRANSIENT)
            raise p11x.ObjectHandleInvalid() from exc
        key = _Key(private=private, info=info)
        self._conn.keys[key_id] = key
        return key

    @staticmethod
    def _info(key_id: str, private: Any, public: Any) -> KeyInfo:
        if private.key_type == KeyType.RSA:
            attrs = public.get_attributes([Attribute.MODULUS, Attribute.PUBLIC_EXPONENT])
            modulus = attrs[Attribute.MODULUS]
            bits = {2048: KeyAlgorithm.RSA2048, 3072: KeyAlgorithm.RSA3072}.get(len(modulus) * 8)
            if bits is None:
                raise HsmError(f"Key {key_id} is RSA-{len(modulus) * 8}, which Signet does not use.")
            return KeyInfo(key_id, private.label, bits, rsa_spki(modulus, attrs[Attribute.PUBLIC_EXPONENT]))
        if private.key_type == KeyType.EC:
            attrs = public.get_attributes([Attribute.EC_PARAMS, Attribute.EC_POINT])
            if attrs[Attribute.EC_PARAMS] != P256_PARAMS:
                raise HsmError(f"Key {key_id} is on an EC curve Signet does not use.")
            spki = ec_spki(attrs[Attribute.EC_PARAMS], attrs[Attribute.EC_POINT])
            return KeyInfo(key_id, private.label, KeyAlgorithm.P256, spki)
        raise HsmError(f"Key {key_id} has a key type Signet does not use.")

    # ---- the port ---------------------------------------------------------------------------

    def generate_keypair(self, *, algorithm: KeyAlgorithm, label: str) -> KeyInfo:
        private_template = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
            Attribute.DECRYPT: False,
            Attribute.UNWRAP: False,
            Attribute.DERIVE: False,
        }
        public_template: dict[Any, Any] = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.VERIFY: True,
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
        }
        capabilities = MechanismFlag.SIGN | MechanismFlag.VERIFY

        def generate(session: Any) -> str:
            raw_id = secrets.token_bytes(16)
            try:
                generate_with(session, raw_id)
            except _TRANSIENT:
                with contextlib.suppress(p11x.PKCS11Error):  # no half-made pair left behind
                    for obj in list(session.get_objects({Attribute.ID: raw_id})):
                        obj.destroy()
                raise
            return raw_id.hex()

        def generate_with(session: Any, raw_id: bytes) -> None:
            # the handles C_GenerateKeyPair returns are not used: another process touching the token
            # directory can invalidate them at once; the new pair is looked up by id afterwards
            if algorithm.is_rsa:
                session.generate_keypair(
                    KeyType.RSA,
                    RSA_BITS[algorithm],
                    id=raw_id,
                    label=label,
                    store=True,
                    capabilities=capabilities,
                    public_template=public_template,
                    private_template=private_template,
                )
            else:
                public_template[Attribute.EC_PARAMS] = encode_named_curve_parameters("secp256r1")
                session.generate_keypair(
                    KeyType.EC,
                    id=raw_id,
                    label=label,
                    store=True,
                    capabilities=capabilities,
                    public_template=public_template,
                    private_template=private_template,
                )

        key_id = self._call("generate a key pair", generate)
        try:
            info = self._call("read a new key", lambda session: self._key_locked(session, key_id).info)
        except KeyNotFound:
            # SoftHSM with other processes writing the same token directory can lose half of a new
            # pair (seen: the private key kept, the public key gone); never leave such a half behind
            with contextlib.suppress(KeyNotFound, HsmError, HsmUnavailable):
                self.destroy(key_id)
            raise HsmError(f"The HSM lost the key pair {key_id} it had just generated.") from None
        log.info("hsm_key_generated", key_id=info.key_id, algorithm=algorithm.value)
        return info

    def sign_digests(
        self,
        *,
        key_id: str,
        digests: list[bytes],
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
        scheme: SignScheme | None = None,
    ) -> list[bytes]:
        self.check_digests(digests, hash_algorithm)

        def sign_all(session: Any) -> list[bytes]:
            # a handle gone stale (the key destroyed, maybe by another process) is retried by _call
            key = self._key_locked(session, key_id)
            return [self._sign_one(key, d, hash_algorithm, scheme) for d in digests]

        return self._call("sign", sign_all)

    @staticmethod
    def _sign_one(key: _Key, value: bytes, hash_algorithm: HashAlgorithm, scheme: SignScheme | None) -> bytes:
        algorithm = key.info.algorithm
        scheme = scheme or default_scheme(algorithm)
        if algorithm.is_rsa == (scheme is SignScheme.ECDSA):
            raise BadRequest(f"A {algorithm.value} key cannot sign with {scheme.value}.")
        if scheme is SignScheme.RSA_PKCS1V15:
            return bytes(
                key.private.sign(digest_info(hash_algorithm, value), mechanism=pkcs11.Mechanism.RSA_PKCS)
            )
        if scheme is SignScheme.RSA_PSS:
            hash_mech, mgf = _HASH_MECHANISMS[hash_algorithm]
            return bytes(
                key.private.sign(
                    value,
                    mechanism=pkcs11.Mechanism.RSA_PKCS_PSS,
                    mechanism_param=(hash_mech, mgf, hash_algorithm.digest_size),
                )
            )
        return ecdsa_raw_to_der(bytes(key.private.sign(value, mechanism=pkcs11.Mechanism.ECDSA)))

    def find(self, key_id: str) -> KeyInfo:
        return self._call("find a key", lambda session: self._key_locked(session, key_id).info)

    def attributes(self, key_id: str) -> KeyAttributes:
        names = [
            Attribute.PRIVATE,
            Attribute.SENSITIVE,
            Attribute.EXTRACTABLE,
            Attribute.ALWAYS_SENSITIVE,
            Attribute.NEVER_EXTRACTABLE,
            Attribute.LOCAL,
        ]

        def read(session: Any) -> KeyAttributes:
            self._conn.keys.pop(key_id, None)  # read what the token holds now, not a cached handle
            values = self._key_locked(session, key_id).private.get_attributes(names)
            return KeyAttributes(*(bool(values[name]) for name in names))

        return self._call("read key attributes", read)

    def list_keys(self) -> list[KeyInfo]:
        def list_all(session: Any) -> list[KeyInfo]:
            # finish this search before looking keys up: a second C_FindObjectsInit while one is
            # active fails with CKR_OPERATION_ACTIVE
            search = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})
            key_ids = [bytes(obj[Attribute.ID]).hex() for obj in search]
            found = []
            for key_id in key_ids:
                # half-deleted, foreign, or (SoftHSM, other processes writing) briefly doubled keys
                with contextlib.suppress(_Missing, KeyNotFound, HsmError, p11x.MultipleObjectsReturned):
                    found.append(self._key_locked(session, key_id).info)
            return found

        return self._call("list keys", list_all)

    def destroy(self, key_id: str) -> None:
        try:
            raw_id = bytes.fromhex(key_id)
        except ValueError:
            raise KeyNotFound() from None

        def destroy_pair(session: Any) -> None:
            self._conn.keys.pop(key_id, None)
            # every object with the id, so that a pair half-destroyed by an interrupted call goes too
            found = list(session.get_objects({Attribute.ID: raw_id}))
            if not found:
                raise _Missing()
            for obj in found:
                obj.destroy()

        self._call("destroy a key", destroy_pair)
        log.info("hsm_key_destroyed", key_id=key_id)

    def status(self) -> HsmStatus:
        def read(session: Any) -> HsmStatus:
            if not self._token_listed_locked():  # the open session alone does not notice
                raise p11x.TokenNotPresent()
            token = session.token
            count = sum(1 for _ in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
            return HsmStatus(
                module=self.module_path,
                token_label=self.token_label,
                manufacturer=str(token.manufacturer_id).strip(),
                model=str(token.model).strip(),
                key_count=count,
            )

        return self._call("read the token status", read)

    def close(self) -> None:
        """Log out and close the shared session; any later call opens a new one."""
        with self._conn.lock:
            self._conn.drop()
