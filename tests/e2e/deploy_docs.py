#!/usr/bin/python3
"""docs/deploy.md shows the configurations the tests run, word for word.

    deploy_docs.py SOURCE_DIR            compare; on a difference, print a
                                         unified diff and exit 1
    deploy_docs.py --update SOURCE_DIR   write them into docs/deploy.md

Each fenced code block that follows a line <!-- FILE --> in docs/deploy.md
is FILE of the source tree: the balancer templates of tests/e2e/balancers
(which tst_balancers starts HAProxy and nginx from) with the placeholders
filled in with the documentation's addresses, other files as they are
(resources/sockjsproxy.service, the .deb's systemd unit).
"""

import difflib
import pathlib
import re
import sys

# What the documentation's example network uses for the placeholders.
VALUES = {
    "@LISTEN@": "*:80",
    "@SERVER1@": "10.0.0.11:8080",
    "@SERVER2@": "10.0.0.12:8080",
}
MARKER = re.compile(r"^<!-- (\S+) -->$")


def expected(source, name):
    text = (source / name).read_text()
    if name.endswith(".in"):
        for placeholder, value in VALUES.items():
            text = text.replace(placeholder, value)
    if re.search(r"@[A-Z0-9_]+@", text):
        sys.exit(f"deploy_docs: {name}: a placeholder without a value")
    return text.splitlines()


def main():
    args = sys.argv[1:]
    update = bool(args) and args[0] == "--update"
    if update:
        args = args[1:]
    if len(args) != 1:
        sys.exit(__doc__)
    source = pathlib.Path(args[0])
    doc = source / "docs" / "deploy.md"
    lines = doc.read_text().splitlines()
    out = []
    failed = False
    blocks = 0
    i = 0
    while i < len(lines):
        out.append(lines[i])
        match = MARKER.match(lines[i])
        if not match or i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            i += 1
            continue
        name = match.group(1)
        out.append(lines[i + 1])
        end = i + 2
        while end < len(lines) and lines[end] != "```":
            end += 1
        if end == len(lines):
            sys.exit(f"deploy_docs: docs/deploy.md: the block after {lines[i]} never ends")
        want = expected(source, name)
        have = lines[i + 2:end]
        if have != want:
            failed = True
            if not update:
                sys.stdout.writelines(difflib.unified_diff(
                    [line + "\n" for line in have], [line + "\n" for line in want],
                    f"docs/deploy.md ({name})", name))
        out.extend(want)
        out.append("```")
        blocks += 1
        i = end + 1
    if blocks == 0:
        sys.exit("deploy_docs: docs/deploy.md has no <!-- FILE --> blocks")
    if update:
        if failed:
            doc.write_text("\n".join(out) + "\n")
            print("deploy_docs: docs/deploy.md updated")
        return 0
    if failed:
        print("deploy_docs: docs/deploy.md differs from what the tests run; "
              "tests/e2e/deploy_docs.py --update SOURCE_DIR rewrites it")
        return 1
    print(f"deploy_docs: {blocks} blocks as tested")
    return 0


if __name__ == "__main__":
    sys.exit(main())
