"""The naive baseline for bench/poll_bench.py: what a short python-bugzilla script does.

One search, then for each bug: fetch the bug, fetch its comments, post a comment — three
requests per bug, one at a time, with the library's plain API (`getbug`, `get_comments`,
`update_bugs`). No registry, no store, no decisions: it is the request pattern being
measured, and it is given every advantage except batching.

    .venv/bin/python bench/naive_baseline.py --url http://127.0.0.1:PORT --api-key-file F \
        --product P --component C --since 2026-01-01T00:00:00Z
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bugzilla


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--api-key-file", required=True)
    parser.add_argument("--product", required=True)
    parser.add_argument("--component", required=True)
    parser.add_argument("--since", required=True, help="creation_time, YYYY-MM-DDTHH:MM:SSZ")
    args = parser.parse_args(argv)

    key = Path(args.api_key_file).read_text(encoding="utf-8").strip()
    bz = bugzilla.Bugzilla(
        args.url.rstrip("/") + "/rest", api_key=key, force_rest=True, use_creds=False
    )
    query = bz.build_query(product=args.product, component=args.component)
    query["creation_time"] = args.since
    bugs = bz.query(query)
    posted = 0
    for found in bugs:
        bug = bz.getbug(found.id)
        comments = bz.get_comments([bug.id])
        description = comments["bugs"][str(bug.id)]["comments"][0]["text"]
        text = f"Thanks for the request about {bug.summary!r} ({len(description)} characters)."
        bz.update_bugs([bug.id], bz.build_update(comment=text))
        posted += 1
    print(f"naive baseline: {len(bugs)} bugs found, {posted} comments posted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
