"""The one reader for every data file the project reads: training splits, prediction inputs, any later pool.

- `formats`: which files a source holds (a file, a directory with one file per split, a `save_to_disk` folder)
  and their format;
- `header`: csv/tsv header checks (a first row that is data, `data.column_names` / `--column-names`);
- `problems`: one-line `NlptlError`s naming file, line/row and the fix, translated from what pandas, pyarrow and
  `datasets` raise;
- `load`: training splits, loaded and cached by `datasets`, checked before and after;
- `stream`: prediction inputs read in fixed-size chunks with row-level problems (the bad-row policy decides);
- `origin`: which file and row a loaded example came from, for messages raised later (labels).

docs/data-files.md describes the formats, the detection and every error with its fix.
"""
