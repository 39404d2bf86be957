"""The client libraries carry Postbode's version, which lives in one place: the
workspace's Cargo.toml. This writes it into every manifest and version constant
(``--write``) or checks that they all carry it (``--check``, what CI runs).

    python3 clients/versions.py --check | --write
"""

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent
CARGO = ROOT.parent / "Cargo.toml"

#: Each file, and the pattern whose one group is the version.
PLACES = [
    ("python/pyproject.toml", r'(?m)^version = "([^"]+)"$'),
    ("python/src/postbode/_version.py", r'__version__ = "([^"]+)"'),
    ("typescript/src/version.ts", r'VERSION = "([^"]+)"'),
    ("php/src/Version.php", r"VERSION = '([^']+)'"),
    ("go/version.go", r'Version = "([^"]+)"'),
]
JSON_PLACES = [
    ("typescript/package.json", [["version"]]),
    ("typescript/package-lock.json", [["version"], ["packages", "", "version"]]),
]


def workspace_version() -> str:
    text = CARGO.read_text("utf-8")
    section = text.split("[workspace.package]", 1)[1].split("\n[", 1)[0]
    match = re.search(r'(?m)^version = "([^"]+)"', section)
    if not match:
        sys.exit("no version in [workspace.package] of Cargo.toml")
    return match.group(1)


def main() -> None:
    write = sys.argv[1:] == ["--write"]
    if not write and sys.argv[1:] != ["--check"]:
        sys.exit(__doc__)
    version = workspace_version()
    wrong = []
    for name, pattern in PLACES:
        path = ROOT / name
        text = path.read_text("utf-8")
        match = re.search(pattern, text)
        if match is None:
            sys.exit("%s: no version found" % name)
        if match.group(1) != version:
            wrong.append(name)
            if write:
                path.write_text(text[: match.start(1)] + version + text[match.end(1) :], "utf-8")
    for name, keys in JSON_PLACES:
        path = ROOT / name
        data = json.loads(path.read_text("utf-8"))
        for key in keys:
            node = data
            for part in key[:-1]:
                node = node[part]
            if node[key[-1]] != version:
                wrong.append("%s (%s)" % (name, ".".join(key) or "root"))
                node[key[-1]] = version
        if write:
            path.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    if wrong and not write:
        sys.exit("not at version %s (Cargo.toml): %s; run python3 clients/versions.py --write" % (version, ", ".join(wrong)))
    print("clients: every library is at version %s" % version)


if __name__ == "__main__":
    main()
