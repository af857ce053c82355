"""Reads `actserve-client list --json` on stdin and prints a Markdown table
of each activation's formula and derivative, linking to its section."""

import json
import sys


def cell(text):
    # A | inside a table cell would end it.
    return "`" + text.replace("|", "\\|") + "`" if text else ""


def main():
    print("| Name | f(x) | f\u2032(x) |")
    print("| --- | --- | --- |")
    for info in json.load(sys.stdin)["activations"]:
        name = info["name"]
        print(f"| [{name}](#{name}) | {cell(info['formula'])} | "
              f"{cell(info['derivativeFormula'])} |")


if __name__ == "__main__":
    main()
