"""Personal data → tokens in Spark, as a source table's contract declares it.

Each personal field (``SourceContract.pii``) is replaced by its keyed token,
``<field>_token`` (``Field.stored_name``); an ID number also leaves a ``<name>_valid`` flag,
because its check character can only be verified before it is tokenised. Phone and ID
numbers inside free text residents write (``SourceContract.free_text``) are replaced by
their tokens. It runs in the Python workers (``mapInPandas``) with the same
``civiclake.pii`` functions as every other ingest, so a resident gets the same token in
every table. File exports are tokenised the same way in the driver, before Spark sees a
row (``civiclake.ingest.validate``).
"""

from __future__ import annotations

from civiclake.contracts.base import SourceContract
from civiclake.pii import is_valid_id_number, scrub_text, tokenise


def validity_column(field: str) -> str:
    """``head_id_number`` → ``head_id_valid``: whether the ID number's check character holds."""
    return f"{field.removesuffix('_number')}_valid"


def tokenise_columns(df, contract: SourceContract, key: bytes):
    """``df`` with the contract's personal columns replaced: validity flags and then tokens
    follow the other columns; free text is scrubbed in place."""
    from pyspark.sql import types as T

    pii = contract.pii
    free_text = contract.free_text
    if not pii and not free_text:
        return df
    flags = {name: validity_column(name) for name, kind in pii.items() if kind == "id_number"}
    tokens = {name: contract.field(name).stored_name for name in pii}
    fields = [f for f in df.schema.fields if f.name not in pii]
    fields += [T.StructField(flag, T.BooleanType(), True) for flag in flags.values()]
    fields += [T.StructField(token, T.StringType(), True) for token in tokens.values()]

    def apply(batches):
        for pdf in batches:
            for column in free_text:
                pdf[column] = pdf[column].map(lambda v: scrub_text(v, key))
            for column, flag in flags.items():
                pdf[flag] = pdf[column].map(lambda v: None if v is None else is_valid_id_number(v))
            for column, token in tokens.items():
                pdf[token] = pdf[column].map(lambda v, kind=pii[column]: tokenise(v, kind, key))
            yield pdf.drop(columns=list(pii))

    return df.mapInPandas(apply, T.StructType(fields))
