#!/usr/bin/python3
"""The README's usage block is `sockjsproxy-cli --help`, word for word.

    readme_help.py CLI README.md            compare; on a difference, print
                                            a unified diff and exit 1
    readme_help.py --update CLI README.md   write the --help text into the block

The block is the fenced code block that follows the line
<!-- sockjsproxy-cli --help --> in README.md.
"""

import difflib
import subprocess
import sys

MARKER = "<!-- sockjsproxy-cli --help -->"


def help_text(cli):
    # argv[0] is what Qt prints after "Usage:"; a user types the bare name.
    result = subprocess.run(["sockjsproxy-cli", "--help"], executable=cli, capture_output=True,
                            text=True, timeout=60)
    if result.returncode != 0:
        sys.exit(f"readme_help: sockjsproxy-cli --help exited with {result.returncode}: {result.stderr}")
    return result.stdout


def find_block(lines):
    """(first, end) line indexes of the block's contents, fences excluded."""
    try:
        marker = lines.index(MARKER + "\n")
    except ValueError:
        sys.exit(f"readme_help: no line {MARKER} in the README")
    if marker + 1 >= len(lines) or not lines[marker + 1].startswith("```"):
        sys.exit(f"readme_help: {MARKER} is not followed by a ``` block")
    for end in range(marker + 2, len(lines)):
        if lines[end].startswith("```"):
            return marker + 2, end
    sys.exit("readme_help: the block after the marker is not closed")


def main(argv):
    update = argv[:1] == ["--update"]
    if update:
        argv = argv[1:]
    if len(argv) != 2:
        sys.exit(__doc__)
    cli, readme = argv
    actual = help_text(cli)
    with open(readme, encoding="utf-8") as f:
        lines = f.readlines()
    first, end = find_block(lines)
    documented = "".join(lines[first:end])
    if documented == actual:
        print("readme_help: the README's usage block is sockjsproxy-cli --help")
        return 0
    if update:
        lines[first:end] = [actual]
        with open(readme, "w", encoding="utf-8") as f:
            f.writelines(lines)
        print(f"readme_help: wrote sockjsproxy-cli --help into {readme}")
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        documented.splitlines(keepends=True), actual.splitlines(keepends=True),
        fromfile="README.md (usage block)", tofile="sockjsproxy-cli --help"))
    print(f"\nreadme_help: the README's usage block differs from sockjsproxy-cli --help; "
          f"update it, e.g. with\n  {sys.argv[0]} --update {cli} {readme}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
