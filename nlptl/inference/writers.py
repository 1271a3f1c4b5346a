"""Join the finished parts into the output file, format chosen by its extension, written whole (temp + rename).

Parts may differ slightly in schema (a jsonl column that is null in one chunk, int in another): they are
unified once, so every format gets the same columns in the same order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from nlptl.errors import NlptlError
from nlptl.io import atomic_path

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".parquet": "parquet"}


def output_format(path: Path) -> str:
    if path.suffix not in FORMATS:
        raise NlptlError(f"--output {path}: unsupported extension; use one of {', '.join(FORMATS)}")
    return FORMATS[path.suffix]


def unified_schema(parts: list[Path]) -> pa.Schema:
    return pa.unify_schemas([pq.read_schema(p) for p in parts], promote_options="permissive")


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table with exactly the schema's columns, in order; columns it lacks are null."""
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names
               else pa.nulls(table.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def write_output(parts: list[Path], output: Path, empty: pa.Schema | None = None) -> int:
    """Write all parts, in order, to `output`; returns the number of rows written."""
    kind = output_format(output)
    schema = unified_schema(parts) if parts else (empty or pa.schema([]))
    rows = 0
    with atomic_path(output) as tmp:
        if kind == "parquet":
            with pq.ParquetWriter(tmp, schema) as writer:
                for part in parts:
                    table = conform(pq.read_table(part), schema)
                    writer.write_table(table)
                    rows += table.num_rows
                if not parts:
                    writer.write_table(schema.empty_table())
            return rows
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            if not parts and kind in ("csv", "tsv"):
                handle.write(("\t" if kind == "tsv" else ",").join(schema.names) + "\n")
            for number, part in enumerate(parts):
                table = conform(pq.read_table(part), schema)
                rows += table.num_rows
                if kind == "jsonl":
                    handle.writelines(json.dumps(row, ensure_ascii=False, default=str) + "\n"
                                      for row in table.to_pylist())
                else:
                    import pandas as pd

                    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
                    frame.to_csv(handle, sep="\t" if kind == "tsv" else ",", header=number == 0, index=False)
    return rows
