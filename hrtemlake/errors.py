"""Exceptions that hrtemlake raises for bad input; the CLI prints them without a traceback."""


class HrtemlakeError(Exception):
    """Base class: a problem with the user's input, store or parameters."""


class LakeError(HrtemlakeError):
    """The lake cannot be opened or written as asked (path, version, names)."""


class SchemaError(HrtemlakeError):
    """Data or a store does not match the catalog's declaration."""


class ParameterError(HrtemlakeError, ValueError):
    """A parameter (CLI option, parameter-file field) is invalid; the message names it."""
