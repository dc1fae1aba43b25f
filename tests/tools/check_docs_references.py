#!/usr/bin/python3
"""The repository explains itself: every reference in it leads to a file in it.

Fails (exit 1, one line per problem) when a file of the source tree
  - points at notes outside the repository (research notes, PRODUCT.md, ../shared/, seeds/), or
  - cites docs/<name>.md §<n> (or §S<n>) where docs/<name>.md has no such section heading, or names a
    docs file that does not exist, or docs/contract.md "<heading>" that the contract lacks.

    /usr/bin/python3 tests/tools/check_docs_references.py [SOURCE_DIR]

Skips .git/, build*/ directories, the fuzz corpora and binary files. Run by ctest (label unit).
"""

import os
import re
import sys

OUTSIDE = re.compile(r"research/|research notes?|\bresearch §|PRODUCT\.md|\.\./shared|/work/shared|\bseeds?/",
                     re.IGNORECASE)
SECTION = r"§(?:S\d+|\d+(?:\.\d+)*)"
# "docs/X.md §a, §b–§c and §d", also across a comment line break.
REF = re.compile(r"docs/([\w-]+)\.md((?:[\s/#*]*(?:,|;|and|–|-|to)?[\s/#*]*" + SECTION + r")*)")
CONTRACT_REF = re.compile(r'docs/contract\.md,?\s*(?:section\s*)?"([^"]+)"')
SELF = os.path.normpath("tests/tools/check_docs_references.py")


def tree_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git" and not d.startswith("build"))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.relpath(path, root))
            if os.path.islink(path) or "/fuzz/corpus/" in "/" + rel or rel == SELF:
                continue
            with open(path, "rb") as f:
                data = f.read()
            if b"\0" in data:
                continue
            try:
                yield rel, data.decode("utf-8")
            except UnicodeDecodeError:
                continue


def section_index(root):
    """docs/<name>.md -> (set of section numbers such as "4.2" or "S1", list of heading texts)."""
    index = {}
    docs_dir = os.path.join(root, "docs")
    for name in sorted(os.listdir(docs_dir)):
        if not name.endswith(".md"):
            continue
        numbers, titles = set(), []
        with open(os.path.join(docs_dir, name), encoding="utf-8") as f:
            for line in f:
                m = re.match(r"#{1,6}\s+(.*?)\s*$", line)
                if not m:
                    continue
                titles.append(m.group(1))
                n = re.match(r"§?(S\d+(?:\.\d+)*|\d+(?:\.\d+)*)\.?(?:\s|$)", m.group(1))
                if n:
                    numbers.add(n.group(1))
        index[name[:-3]] = (numbers, titles)
    return index


def problems_in(root):
    index = section_index(root)
    problems = []
    for rel, text in tree_files(root):
        def line_of(pos):
            return text.count("\n", 0, pos) + 1
        for m in OUTSIDE.finditer(text):
            problems.append(f"{rel}:{line_of(m.start())}: points outside the repository: {m.group(0)!r}")
        for m in REF.finditer(text):
            doc = m.group(1)
            if doc not in index:
                problems.append(f"{rel}:{line_of(m.start())}: docs/{doc}.md does not exist")
                continue
            for number in re.findall(r"§(S\d+(?:\.\d+)*|\d+(?:\.\d+)*)", m.group(2)):
                if number.rstrip(".") not in index[doc][0]:
                    problems.append(f"{rel}:{line_of(m.start())}: docs/{doc}.md §{number}: no such section")
        for m in CONTRACT_REF.finditer(text):
            name = m.group(1)
            if name.startswith("<"):
                continue  # a placeholder in an explanation
            if not any(title.startswith(name) for title in index.get("contract", ((), []))[1]):
                problems.append(f'{rel}:{line_of(m.start())}: docs/contract.md "{name}": no such heading')
    return problems


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    problems = problems_in(os.path.abspath(root))
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)" if problems else "every reference stays in the repository")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
