"""Faster equivalents of the library routines that dominated a cold verification (issue 6).

Installed process-wide by ``app.signing.pdf`` (with this module, all that imports pyHanko);
tests/unit/test_verify_fast_paths.py holds each to the routine it replaces, input by input and on
whole reports.  The rule for each: on the inputs it handles, exactly the original's result (same
types, values, ``container_ref``s, stream position, verdicts); on anything else it steps aside and
the original runs, so errors and warnings are the library's own.

- ``subsume_object`` (pyHanko's copy of an object into a historical revision): the same copies,
  without building a reference for every leaf.
- ``rdn_eq`` / ``rdn_hashable`` (asn1crypto's X.509 name comparison and name key): remembered per
  DER encoding.
- ``validate_cert_usage`` (pyHanko's certificate-path validation for a usage): answered from the
  report's memo when the same question was already asked for another signature of the file.

Measured with callgrind on the three-signature transcript (instructions per cold report, the
signatures' validation only), each added to the one before: 215 M with the library's routines;
170 M with ``subsume_object`` (and the object reader of a later change); 155 M with the names;
149 M with the path memo.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator.registry import LazyPathIterator

# --------------------------------------------------------------------------- historical revisions
#
# ``HistoricalResolver._subsume_object`` copies every object a revision's resolver reads, so that its
# references resolve within that revision.  For every node, containers and leaves alike, it first
# builds a ``Reference`` to the node's container (a frozen dataclass: slow to make), though a leaf
# is returned as it is.  The replacement builds it only for the containers that keep it.

_original_subsume = HistoricalResolver._subsume_object
_LEAVES = frozenset(
    {
        generic.NameObject,
        generic.NumberObject,
        generic.FloatObject,
        generic.BooleanObject,
        generic.NullObject,
        generic.TextStringObject,
        generic.ByteStringObject,
    }
)


def subsume_object(self: Any, obj: Any) -> Any:
    """``HistoricalResolver._subsume_object``, the same copies made with less work."""
    ref = obj.container_ref
    if type(ref) is not generic.Reference:  # none (pyHanko raises) or the trailer's: as pyHanko does
        return _original_subsume(self, obj)
    kind = type(obj)
    if kind in _LEAVES:
        return obj
    if kind is generic.IndirectObject:
        return generic.IndirectObject(idnum=obj.idnum, generation=obj.generation, pdf=self)
    result: Any
    if kind is generic.DictionaryObject:
        result = generic.DictionaryObject({k: subsume_object(self, v) for k, v in obj.items()})
    elif kind is generic.ArrayObject:
        result = generic.ArrayObject(subsume_object(self, v) for v in obj)
    elif kind is generic.StreamObject:
        result = generic.StreamObject(
            {k: subsume_object(self, v) for k, v in obj.items()}, encoded_data=obj.encoded_data
        )
    else:  # a proxy of an encrypted object, a metadata stream, anything else: pyHanko's own copy
        return _original_subsume(self, obj)
    result.container_ref = generic.Reference(idnum=ref.idnum, generation=ref.generation, pdf=self)
    return result


# --------------------------------------------------------------------------- X.509 names
#
# asn1crypto compares two X.509 names (RFC 5280, 7.1) and keys its certificate stores by a name's
# ``hashable`` form afresh each time, preparing every value again: the same few names (the CA's, the
# TSA's, the signers') dozens of times per file, most of them in pyHanko's signing-certificate
# checks.  Both are pure functions of the names' DER, so their results are remembered by it
# (bounded); a name asn1crypto refuses raises every time, as before.

_original_rdn_eq = x509.RDNSequence.__eq__
_original_rdn_hashable = x509.RDNSequence.hashable
_NAMES = 4096
_rdn_equal: dict[tuple[bytes, bytes], bool] = {}
_rdn_hashable: dict[bytes, str] = {}


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _NAMES:
        cache.clear()
    cache[key] = value


def rdn_eq(self: Any, other: Any) -> bool:
    """``RDNSequence.__eq__``, remembered per pair of DER encodings."""
    if not isinstance(other, x509.RDNSequence):
        return False
    key = (self.dump(), other.dump())
    found = _rdn_equal.get(key)
    if found is None:
        found = bool(_original_rdn_eq(self, other))
        _remember(_rdn_equal, key, found)
    return found


def rdn_hashable(self: Any) -> str:
    """``RDNSequence.hashable``, remembered per DER encoding."""
    key = self.dump()
    found = _rdn_hashable.get(key)
    if found is None:
        found = _original_rdn_hashable.fget(self)
        _remember(_rdn_hashable, key, found)
    return found


# --------------------------------------------------------------------------- certificate paths
#
# Each signature of a report is validated with a validation context of its own (nothing one
# signature brings decides another's verdict), but the timestamp tokens of a transcript are all
# signed by the same TSA: its certificate path was built and validated three times.  Contexts that
# ``app.signing.pdf`` makes for one report share a trust manager, the DSS CRLs, the validation time
# and a memo (``PATH_MEMO``): a certificate's validation for a given usage is looked up there by the
# certificate's DER, the DER of every certificate in the context's registry (the candidates for its
# path) and the usage constraints, i.e. it is reused only where pyHanko would be given exactly the
# same question.  Any other context (signing, other callers) has no memo and is not affected.

PATH_MEMO = "_signet_path_memo"  # attribute of a ValidationContext: the report's memo (a dict)
_original_validate_cert_usage = generic_cms.validate_cert_usage


def _usage_key(settings: Any) -> tuple[Any, ...]:
    if type(settings) is not KeyUsageConstraints:
        raise TypeError(type(settings).__name__)
    key: list[Any] = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if value is not None and not isinstance(value, (bool, str)):
            value = (type(value).__name__, tuple(sorted(value)))
        key.append((field.name, value))
    return tuple(key)


async def validate_cert_usage(
    cert: Any,
    validation_context: Any,
    key_usage_settings: Any,
    paths: Any,
    pkix_validation_params: Any = None,
) -> Any:
    """``generic_cms.validate_cert_usage``, answered from the report's memo when it can be."""
    memo: dict[Any, Any] | None = getattr(validation_context, PATH_MEMO, None)
    key: Any = None
    if memo is not None and pkix_validation_params is None and type(paths) is LazyPathIterator:
        try:
            key = (
                cert.dump(),
                frozenset(c.dump() for c in validation_context.certificate_registry),
                _usage_key(key_usage_settings),
            )
            hash(key)
        except TypeError:
            key = None
    if key is not None and key in memo:  # type: ignore[operator]
        await paths.cancel()  # as pyHanko's path search does when it is done
        return memo[key]  # type: ignore[index]
    result = await _original_validate_cert_usage(
        cert,
        validation_context,
        key_usage_settings=key_usage_settings,
        paths=paths,
        pkix_validation_params=pkix_validation_params,
    )
    if key is not None:
        memo[key] = result  # type: ignore[index]
    return result


def install() -> None:
    HistoricalResolver._subsume_object = subsume_object  # type: ignore[method-assign]
    x509.RDNSequence.__eq__ = rdn_eq
    x509.RDNSequence.hashable = property(rdn_hashable)
    generic_cms.validate_cert_usage = validate_cert_usage
