"""`edgekit pull` and `edgekit cache list|verify|prune`.

Thin commands over edgekit.sources; TensorFlow is imported only inside commands that scan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from edgekit.console import console, err_console
from edgekit.errors import EdgekitError, SourceError

_PULL_EPILOG = """Examples:\n\n
  edgekit pull https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5\n
  edgekit pull google/mobilenet-v2/tensorFlow2/100-224-feature-vector/5 --lock recipes/edgekit.lock\n
  edgekit pull 'keras:MobileNetV2?size=160&alpha=0.35'\n
  edgekit pull acme/net/tensorFlow2/small --allow-publisher acme --allow-unpinned\n
  EDGEKIT_OFFLINE=1 edgekit pull <handle>             # cache only, verify against edgekit.lock\n
  edgekit pull <handle> --accept-new-hash             # the publisher changed the bytes: re-record\n\n
Environment: EDGEKIT_CACHE (cache folder), EDGEKIT_OFFLINE=1, EDGEKIT_HUB_URL / EDGEKIT_KAGGLE_URL (mirrors).
"""


def register(app: typer.Typer) -> None:
    app.command("pull", epilog=_PULL_EPILOG)(pull)
    cache_app = typer.Typer(
        name="cache",
        help="Inspect, verify and clean the model cache ($EDGEKIT_CACHE, default ~/.cache/edgekit).",
        no_args_is_help=True,
        add_completion=False,
    )
    cache_app.command("list", epilog="Examples:\n\n  edgekit cache list\n\n  edgekit cache list --json\n")(
        cache_list
    )
    cache_app.command(
        "verify",
        epilog="Examples:\n\n  edgekit cache verify\n\n  edgekit cache verify --json   # exit 1 if any entry is damaged\n",
    )(cache_verify)
    cache_app.command(
        "prune",
        epilog="Examples:\n\n  edgekit cache prune                       # damaged entries and interrupted pulls\n\n"
        "  edgekit cache prune --keep edgekit.lock   # also everything that lockfile does not name\n\n"
        "  edgekit cache prune --all --dry-run\n",
    )(cache_prune)
    app.add_typer(cache_app, name="cache")


def pull(
    handles: list[str] = typer.Argument(
        ..., help="Handles: tfhub.dev URL, Kaggle handle or URL, keras:<Application>, local path."
    ),
    lock: Path = typer.Option(Path("edgekit.lock"), "--lock", help="Lockfile to verify against and update."),
    offline: bool = typer.Option(False, "--offline", help="Use the cache only (also EDGEKIT_OFFLINE=1)."),
    allow_publisher: list[str] = typer.Option(
        [], "--allow-publisher", help="Also trust this publisher/owner (repeatable)."
    ),
    allow_unpinned: bool = typer.Option(
        False, "--allow-unpinned", help="Accept handles without a version; the resolved one is locked."
    ),
    upgrade: bool = typer.Option(
        False, "--upgrade", help="Re-resolve unpinned handles instead of using the locked version."
    ),
    accept_new_hash: bool = typer.Option(
        False, "--accept-new-hash", help="Accept bytes that differ from the lockfile and re-record them."
    ),
    allow_unsafe_ops: bool = typer.Option(
        False,
        "--allow-unsafe-ops",
        help="Accept graphs with ops outside the op scan's allowlist of pure computation (files, network, Python, ...); recorded in the lockfile.",
    ),
    hub_url: str | None = typer.Option(
        None, "--hub-url", help="tfhub.dev mirror base URL (default: EDGEKIT_HUB_URL or https://tfhub.dev)."
    ),
    kaggle_url: str | None = typer.Option(
        None,
        "--kaggle-url",
        help="Kaggle mirror base URL (default: EDGEKIT_KAGGLE_URL or https://www.kaggle.com).",
    ),
    cache: Path | None = typer.Option(
        None, "--cache", help="Cache folder (default: EDGEKIT_CACHE or ~/.cache/edgekit)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Download, verify, scan and cache models; record their hashes in edgekit.lock."""
    from edgekit.setup.extras import require_extra
    from edgekit.sources.base import DEFAULT_PUBLISHERS, SourceSettings
    from edgekit.sources.resolve import resolve_source

    require_extra("tf", "edgekit pull")  # every pulled module is loaded and op-scanned by TensorFlow

    settings = SourceSettings(
        cache_dir=cache,
        lockfile=lock,
        offline=offline,
        allow_publishers=tuple(dict.fromkeys([*DEFAULT_PUBLISHERS, *allow_publisher])),
        allow_unpinned=allow_unpinned,
        upgrade=upgrade,
        accept_new_hash=accept_new_hash,
        allow_unsafe_ops=allow_unsafe_ops,
        hub_url=hub_url,
        kaggle_url=kaggle_url,
    )
    results, failures = [], []
    for handle in handles:
        try:
            results.append(resolve_source(handle, settings, base_dir=Path.cwd()))
        except EdgekitError as exc:  # pull the other handles anyway; report all failures at the end
            failures.append((handle, exc))
    if as_json:
        console.print_json(json.dumps([r.to_dict() for r in results], default=str))
    else:
        for r in results:
            version = r.manifest.get("version")
            console.print(
                f"[green]✓[/] {r.canonical}" + (f"  (version {version})" if version else ""), highlight=False
            )
            console.print(
                f"    {r.path}  sha256 {r.sha256[:16]}…  input {r.info.input_size[0]}x{r.info.input_size[1]}",
                highlight=False,
            )
            for note in r.notes:
                console.print(f"    [dim]note:[/] {note}", highlight=False)
    _raise_failures(failures, len(handles))


def _raise_failures(failures: list[tuple[str, EdgekitError]], total: int) -> None:
    """One failure: raise it as is. Several: print each, raise a summary with the worst exit code.

    Raised, not typer.Exit: the CLI's error boundary turns EdgekitError into the exit code.
    """
    if not failures:
        return
    if len(failures) == 1:
        raise failures[0][1]
    from rich.markup import escape

    for handle, exc in failures:
        err_console.print(f"[bold red]error:[/] {escape(handle)}: {escape(exc.message)}", highlight=False)
        if exc.hint:
            err_console.print(f"  [dim]hint:[/] {escape(exc.hint)}", highlight=False)
    summary = EdgekitError(f"{len(failures)} of {total} handles could not be pulled (see above)")
    summary.exit_code = max(exc.exit_code for _, exc in failures)
    raise summary


def _cache(cache: Path | None):
    from edgekit.sources.base import SourceSettings
    from edgekit.sources.cache import Cache

    return Cache(SourceSettings(cache_dir=cache).cache_root())


_CACHE_OPTION = typer.Option(
    None, "--cache", help="Cache folder (default: EDGEKIT_CACHE or ~/.cache/edgekit)."
)


def cache_list(
    cache: Path | None = _CACHE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List cached modules: canonical id, version, size, when it was pulled."""
    from edgekit.fsutil import tree_size

    store = _cache(cache)
    rows: list[dict[str, Any]] = []  # one JSON object per cache folder
    for folder, entry in store.entries():
        meta = entry.meta if entry else {}
        rows.append(
            {
                "canonical": entry.canonical if entry else None,
                "kind": meta.get("kind"),
                "version": meta.get("version"),
                "archive_sha256": meta.get("archive_sha256"),
                "files": len(meta.get("files", {})),
                "bytes": tree_size(folder),
                "created": meta.get("created"),
                "path": str(folder),
                "complete": entry is not None,
            }
        )
    if as_json:
        console.print_json(json.dumps({"cache": str(store.root), "entries": rows}))
        return
    table = Table(title=f"cache {store.root}", title_justify="left")
    table.add_column("canonical", overflow="fold")
    for col in ("version", "size", "pulled"):
        table.add_column(col, no_wrap=True)
    for row in rows:
        table.add_row(
            row["canonical"] or f"(incomplete) {row['path']}",
            str(row["version"] or ""),
            _human(row["bytes"]),
            (row["created"] or "")[:10],
        )
    console.print(table)
    if not rows:
        console.print("the cache is empty")


def cache_verify(
    cache: Path | None = _CACHE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Re-hash every cached file against its recorded sha256; exit 1 if anything is damaged."""
    store = _cache(cache)
    rows: list[dict[str, Any]] = []  # one JSON object per cache folder
    for folder, entry in store.entries():
        problems = store.verify(entry) if entry else ["no valid entry.json (interrupted or foreign folder)"]
        rows.append(
            {
                "canonical": entry.canonical if entry else None,
                "path": str(folder),
                "ok": not problems,
                "problems": problems,
            }
        )
    if as_json:
        console.print_json(json.dumps({"cache": str(store.root), "entries": rows}))
    else:
        for row in rows:
            mark = "[green]ok[/]" if row["ok"] else "[bold red]DAMAGED[/]"
            console.print(f"{mark} {row['canonical'] or row['path']}", highlight=False)
            for p in row["problems"][:10]:
                console.print(f"    {p}", highlight=False)
        console.print(f"{sum(r['ok'] for r in rows)} of {len(rows)} entries intact", highlight=False)
    damaged = [r["canonical"] or r["path"] for r in rows if not r["ok"]]
    if damaged:  # a check that found damage: exit 1 like `edgekit verify`, not a refusal (3)
        raise SourceError(
            f"{len(damaged)} cache entr{'y is' if len(damaged) == 1 else 'ies are'} damaged: {', '.join(damaged[:5])}",
            hint="`edgekit cache prune` removes damaged entries; the next pull downloads them again",
        )


def cache_prune(
    cache: Path | None = _CACHE_OPTION,
    everything: bool = typer.Option(False, "--all", help="Remove every entry."),
    keep: list[Path] = typer.Option(
        [], "--keep", help="Also remove entries not named by this lockfile (repeatable)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be removed, remove nothing."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Remove damaged entries and leftovers of interrupted pulls (and more with --all / --keep)."""
    from edgekit.sources.lockfile import Lockfile

    keep_ids: set[str] | None = None
    if keep:
        keep_ids = set()
        for path in keep:
            keep_ids.update(Lockfile.load(path).entries)
    pruned = _cache(cache).prune(everything=everything, keep=keep_ids, dry_run=dry_run)
    if as_json:
        console.print_json(json.dumps({"dry_run": dry_run, "pruned": [p.__dict__ for p in pruned]}))
        return
    verb = "would remove" if dry_run else "removed"
    for p in pruned:
        console.print(f"{verb if p.removed else 'kept'} {p.what}: {p.reason}", highlight=False)
    console.print(f"{sum(p.removed for p in pruned)} item(s) {verb}", highlight=False)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
