"""`nlptl` command line: `nlptl train RECIPE [--overrides]`.

RECIPE is a recipe file (a Python file that defines `recipe = Recipe(...)`) or a saved `recipe.yaml`.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from nlptl.errors import NlptlError
from nlptl.recipe import Recipe, load_recipe_yaml


def load_recipe_file(path: str) -> Recipe:
    """The `recipe` object of a recipe .py file (its `if __name__ == "__main__"` block is not run)."""
    file = Path(path)
    if not file.is_file():
        raise NlptlError(f"recipe file {path} not found")
    if file.suffix in (".yaml", ".yml"):
        return load_recipe_yaml(file)
    if file.suffix != ".py":
        raise NlptlError(f"recipe {path}: expected a .py recipe file or a recipe.yaml")
    spec = importlib.util.spec_from_file_location(f"nlptl_recipe_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    recipe = getattr(module, "recipe", None)
    if not isinstance(recipe, Recipe):
        raise NlptlError(f"recipe file {path} defines no `recipe = Recipe(...)`")
    return recipe


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="nlptl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train_cmd = commands.add_parser("train", help="fine-tune from a recipe", add_help=False)
    train_cmd.add_argument("recipe", help="recipe .py file or recipe.yaml")
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.command == "train":
        from nlptl.run import main as run_main

        try:
            recipe = load_recipe_file(args.recipe)
        except NlptlError as err:
            print(f"nlptl: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        run_main(recipe, rest)


if __name__ == "__main__":
    main()
