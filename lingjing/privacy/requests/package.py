"""The copy package: every personal datum held about a person, as one zip (policy 五(六); PIPL art. 45).

Layout (``lingjing-copy/`` inside the zip)::

    index.html            browsable Chinese index: what is inside, per category with counts, how to read it
    categories/<id>.html  one page per category: every datum (readable: 是/否, local time, choice labels) with
                          its purpose, legal basis and retention
    data.json             every datum, machine-readable (schema: schema.json; format below)
    schema.json           JSON Schema (2020-12) of data.json
    csv/<id>.csv          one CSV per category (UTF-8 with BOM, so spreadsheet programs open it as Chinese)
    files/<name>          the person's files: avatar, covers, studio outputs (every ``export="file"`` datum)
    README.txt            the same explanation in plain text, Chinese and English

``data.json``::

    {"format": "lingjing.personal-data-copy", "version": 1, "generated_at": "...", "subject": "u:<uuid>",
     "controller": {...}, "records": [ {category, category_label, model, model_label, field, field_label, value,
     export, purposes, purpose_labels, basis, basis_label, retention, sensitive, object_id, file?}, ... ]}

Streaming: the records come from the export engine (``iter_person_data``, chunked reads) and are written straight
into the zip entry ``data.json`` while the CSV and HTML rows go to per-category files in a private temporary
directory; those are copied into the zip afterwards, then the files. Nothing holds more than one chunk of rows, so
memory stays flat whatever the number of rows (``bench/copy_and_erasure.py`` measures it). Deflate level 1: the
package is for download, and the CPU a higher level costs is not worth the bytes.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import html
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from lingjing.core.faults import checkpoint
from lingjing.privacy.engines.export import PersonalRecord
from lingjing.privacy.labels import displayer, field_of
from lingjing.privacy.registry import BASES, CATEGORIES, PURPOSES

ROOT = "lingjing-copy"
FORMAT = "lingjing.personal-data-copy"
VERSION = 1
CSV_COLUMNS = ("model_label", "field_label", "value", "object_id", "purpose_labels", "basis_label", "retention",
               "sensitive", "model", "field")

# Decides per field (on the record's static part: category, basis, purposes, ...) whether its data goes in.
RecordFilter = Callable[[dict[str, Any]], bool]
HTML_ROWS_MAX = 2000  # per category page; a browser cannot show more usefully (CSV and JSON hold everything)


def _iter_rows(user: Any, *, chunk_size: int = 5000, lang: str = "zh") -> Iterator[tuple[dict[str, Any], Any, str]]:
    """(the field's static part, value, object id) per datum: the export engine's walk as plain rows.

    The same walk, selection, order and values as ``engines.export.iter_person_data``, but through ``values_list``
    instead of model instances, sealed values opened with the same associated data: building ~100,000 model objects
    is most of the cost of a large copy. ``test_the_fast_reader_yields_exactly_the_engines_records`` keeps the two
    identical over every declared model.
    """
    from lingjing.privacy.engines.export import exported_declarations, jsonable
    from lingjing.security.crypto import SealedField, associated_data, open_sealed

    for decl, fields, static in exported_declarations(user, lang):
        table = decl.model._meta.db_table
        sealed = [isinstance(f, SealedField) for f, _pd in fields]
        columns = [str(f.column) for f, _pd in fields]
        rows = (decl.model._base_manager.filter(**decl.subject_filter(user.pk)).order_by("pk")
                .values_list("pk", *(f.attname for f, _pd in fields)))
        for row in rows.iterator(chunk_size=chunk_size):
            pk = row[0]
            object_id = str(pk)
            for i, raw in enumerate(row[1:]):
                if raw is None or raw == "":
                    continue
                if sealed[i]:
                    raw = open_sealed(str(raw), associated_data(table, columns[i], pk))
                value = raw if type(raw) is str else jsonable(raw)
                if value is None or value == "":
                    continue
                yield static[i], value, object_id


def iter_records(user: Any, *, chunk_size: int = 5000, lang: str = "zh") -> Iterator[PersonalRecord]:
    """The export engine's records, read fast (see :func:`_iter_rows`)."""
    for static, value, object_id in _iter_rows(user, chunk_size=chunk_size, lang=lang):
        yield {**static, "value": value, "object_id": object_id}  # type: ignore[typeddict-item]


@dataclass
class PackageInfo:
    path: Path
    size: int = 0
    sha256: str = ""
    records: int = 0
    files: int = 0
    per_category: dict[str, int] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)


def schema() -> dict[str, Any]:
    """The JSON Schema of ``data.json`` (shipped in every package as ``schema.json``)."""
    record = {
        "type": "object",
        "required": ["category", "model", "field", "value", "purposes", "basis", "retention", "sensitive",
                     "object_id"],
        "properties": {
            "category": {"type": "string", "enum": list(CATEGORIES),
                         "description": "registry category id, e.g. identity.phone"},
            "category_label": {"type": "string"},
            "model": {"type": "string", "description": "where the datum is kept (app.Model)"},
            "model_label": {"type": "string"},
            "field": {"type": "string"},
            "field_label": {"type": "string"},
            "value": {"description": "the datum: text, number, boolean, list or object; dates in ISO 8601, "
                                     "Asia/Shanghai"},
            "export": {"type": "string", "enum": ["value", "file"],
                       "description": "file: value is the storage name and the file is under files/"},
            "purposes": {"type": "array", "items": {"type": "string", "enum": list(PURPOSES)}},
            "purpose_labels": {"type": "array", "items": {"type": "string"}},
            "basis": {"type": "string", "enum": list(BASES), "description": "legal basis, PIPL art. 13"},
            "basis_label": {"type": "string"},
            "retention": {"type": "string", "description": "how long it is kept"},
            "sensitive": {"type": "boolean", "description": "sensitive personal information (PIPL art. 28)"},
            "object_id": {"type": "string", "description": "id of the row the datum belongs to"},
            "file": {"type": "string", "description": "path of the file inside the zip, for export=file"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://lingjingai.cn/schemas/{FORMAT}/{VERSION}",
        "title": "灵境个人信息副本 / Lingjing personal data copy",
        "type": "object",
        "required": ["format", "version", "generated_at", "subject", "records"],
        "properties": {
            "format": {"const": FORMAT},
            "version": {"const": VERSION},
            "generated_at": {"type": "string", "format": "date-time"},
            "subject": {"type": "string", "description": "pseudonymous id of the person: u:<uuid>"},
            "controller": {"type": "object"},
            "records": {"type": "array", "items": record},
        },
    }


class _CategoryFiles:
    """Per-category CSV and HTML row files in a temporary directory, opened on first use. The cells that are the
    same for every row of a field (labels, purposes, basis, retention) are prepared once per field. CSV is UTF-8 with
    a byte-order mark (written once), so spreadsheet programs read it as Chinese."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.csv: dict[str, tuple[IO[str], Any]] = {}
        self.html: dict[str, IO[str]] = {}
        self.html_rows: dict[str, int] = {}
        self.static: dict[tuple[str, str], tuple[str, str, str, list[str], Callable[[Any], Any]]] = {}

    def _static(self, static: dict[str, Any]) -> tuple[str, str, str, list[str], Callable[[Any], Any]]:
        key = (static["model"], static["field"])
        cached = self.static.get(key)
        if cached is None:
            head = f"<tr><td>{html.escape(static['model_label'])}</td><td>{html.escape(static['field_label'])}</td>"
            tail = (f"<td>{html.escape('；'.join(static['purpose_labels']))}</td>"
                    f"<td>{html.escape(static['basis_label'])}</td><td>{html.escape(static['retention'])}</td>"
                    f"<td>{'敏感' if static['sensitive'] else ''}</td></tr>\n")
            cells = ["；".join(static["purpose_labels"]), static["basis_label"], static["retention"],
                     "是" if static["sensitive"] else "否", static["model"], static["field"]]
            show = displayer(field_of(*key), "zh")
            cached = self.static[key] = (static["category"], head, tail, cells, show)
        return cached

    def write(self, static: dict[str, Any], value: Any, object_id: str, file_path: str) -> None:
        """One datum: its raw text in the CSV, its readable text (是/否, local time, choice labels) in the page."""
        cid, head, tail, cells, show = self._static(static)
        value_text = value if type(value) is str else _value_text(value)
        if cid not in self.csv:
            handle = (self.root / f"{cid}.csv").open("w", encoding="utf-8", newline="", buffering=1 << 18)
            handle.write("\ufeff")
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            self.csv[cid] = (handle, writer)
            self.html[cid] = (self.root / f"{cid}.html").open("w", encoding="utf-8", buffering=1 << 18)
            self.html_rows[cid] = 0
        self.csv[cid][1].writerow([static["model_label"], static["field_label"], value_text, object_id, *cells])
        if self.html_rows[cid] < HTML_ROWS_MAX:
            self.html_rows[cid] += 1
            readable = show(value)
            text = readable if type(readable) is str else _value_text(readable)
            shown = (f'<a href="../{html.escape(file_path)}">{html.escape(text)}</a>' if file_path
                     else html.escape(text))
            self.html[cid].write(f"{head}<td class=v>{shown}</td>{tail}")

    def close(self) -> None:
        for handle, _writer in self.csv.values():
            handle.close()
        for handle in self.html.values():
            handle.close()


class _Buffered:
    """Collects small writes into ~256 KB blocks before they reach the zip entry (one deflate call per block)."""

    def __init__(self, target: IO[bytes], size: int = 1 << 18) -> None:
        self.target = target
        self.size = size
        self.parts: list[bytes] = []
        self.length = 0

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.length += len(data)
        if self.length >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.target.write(b"".join(self.parts))
            self.parts, self.length = [], 0


_STYLE = ("body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:2em;line-height:1.6}"
          "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em .5em;"
          "vertical-align:top;text-align:left}td.v{word-break:break-all}.muted{color:#666}")


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh-hans"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>\n")


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _file_entries(names_path: Path) -> Iterator[str]:
    seen: set[str] = set()
    with names_path.open(encoding="utf-8") as handle:
        for line in handle:
            name = line.rstrip("\n")
            if name and name not in seen:
                seen.add(name)
                yield name


@contextlib.contextmanager
def _scratch_dir(out_path: Path) -> Iterator[Path]:
    path = out_path.with_name(f".build-{out_path.name}")
    shutil.rmtree(path, ignore_errors=True)  # left by a build that was killed
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def build_package(
    user: Any, out_path: Path, *, record_filter: RecordFilter | None = None, title: str = "个人信息副本",
    request_ref: str = "",
) -> PackageInfo:
    """Write the package for ``user`` to ``out_path`` (via ``<out_path>.part``, renamed when complete).

    The scratch directory is named after the package, so a build killed half-way (its rows in plain text there)
    is removed by the next build of the same package, as its ``.part`` file is overwritten."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    part = out_path.with_name(out_path.name + ".part")
    info = PackageInfo(path=out_path)
    generated = timezone.localtime().isoformat()
    with _scratch_dir(out_path) as tmp_path:
        categories = _CategoryFiles(tmp_path)
        names_path = tmp_path / "files.txt"
        try:
            with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1,
                                 allowZip64=True) as archive:
                with archive.open(f"{ROOT}/data.json", "w", force_zip64=True) as entry, \
                        names_path.open("w", encoding="utf-8") as names:
                    raw = _Buffered(entry)
                    head = {"format": FORMAT, "version": VERSION, "generated_at": generated,
                            "subject": f"u:{user.pk}", "controller": settings.LINGJING_CONTROLLER}
                    raw.write(json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "records": [\n')
                    first = True
                    prefixes: dict[tuple[str, str], bytes] = {}  # the JSON of a field's static part, once per field
                    keep: dict[tuple[str, str], bool] = {}
                    counts = info.per_category
                    for static, value, object_id in _iter_rows(user, lang="zh"):
                        key = (static["model"], static["field"])
                        prefix = prefixes.get(key)
                        if prefix is None:
                            keep[key] = record_filter is None or record_filter(static)
                            prefix = prefixes[key] = json.dumps(static, ensure_ascii=False)[:-1].encode()
                        if not keep[key]:
                            continue
                        file_path = ""
                        tail = b"\"}"
                        if static["export"] == "file" and isinstance(value, str):
                            file_path = f"files/{value}"
                            names.write(value + "\n")
                            tail = b'", "file": ' + json.dumps(file_path, ensure_ascii=False).encode() + b"}"
                        raw.write((b",\n" if not first else b"") + prefix + b', "value": '
                                  + json.dumps(value, ensure_ascii=False).encode()
                                  + b', "object_id": "' + object_id.encode() + tail)
                        first = False
                        categories.write(static, value, object_id, file_path)
                        cid = static["category"]
                        counts[cid] = counts.get(cid, 0) + 1
                    info.records = sum(counts.values())
                    raw.write(b"\n]}\n")
                    raw.flush()
                checkpoint("privacy.copy.package")  # fault tests: killed with data.json written, the rest not
                categories.close()
                archive.writestr(f"{ROOT}/schema.json", json.dumps(schema(), ensure_ascii=False, indent=2))
                info.categories = [cid for cid in CATEGORIES if cid in info.per_category]
                for cid in info.categories:
                    archive.write(tmp_path / f"{cid}.csv", f"{ROOT}/csv/{cid}.csv")
                    _write_category_page(archive, cid, tmp_path / f"{cid}.html", info.per_category[cid])
                archive.writestr(f"{ROOT}/index.html", _index(info, generated, title, request_ref))
                archive.writestr(f"{ROOT}/README.txt", _readme(generated))
                for name in _file_entries(names_path):
                    if _copy_file(archive, name):
                        info.files += 1
        except BaseException:
            categories.close()
            part.unlink(missing_ok=True)
            raise
    os.chmod(part, 0o600)
    os.replace(part, out_path)
    digest = hashlib.sha256()
    with out_path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    info.sha256 = digest.hexdigest()
    info.size = out_path.stat().st_size
    return info


def _copy_file(archive: zipfile.ZipFile, name: str) -> bool:
    try:
        source = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        return False
    with source, archive.open(f"{ROOT}/files/{name}", "w", force_zip64=True) as target:
        shutil.copyfileobj(source, target, 1 << 20)
    return True


def _write_category_page(archive: zipfile.ZipFile, cid: str, rows_path: Path, count: int) -> None:
    more = (f"<p class=muted>此页显示前 {HTML_ROWS_MAX} 项，共 {count} 项；全部内容见 "
            f'<a href="../csv/{cid}.csv">CSV 表格</a> 和 data.json。</p>' if count > HTML_ROWS_MAX else "")
    category = CATEGORIES[cid]
    head = _page(category.label.zh, "").split("<body>")[0] + "<body>"
    intro = (f'<p><a href="../index.html">← 返回目录</a></p><h1>{html.escape(category.label.zh)}</h1>'
             f'<p class=muted>{html.escape(category.label.en)} · {count} 项'
             f'{" · 敏感个人信息" if category.sensitive else ""}</p>'
             "<table><thead><tr><th>记录</th><th>数据项</th><th>内容</th><th>处理目的</th><th>法律依据</th>"
             "<th>保存期限</th><th></th></tr></thead><tbody>\n")
    intro = intro.replace("<table>", more + "<table>", 1)
    with archive.open(f"{ROOT}/categories/{cid}.html", "w", force_zip64=True) as target:
        target.write((head + intro).encode())
        with rows_path.open("rb") as rows:
            shutil.copyfileobj(rows, target, 1 << 20)
        target.write(b"</tbody></table></body></html>\n")


def _index(info: PackageInfo, generated: str, title: str, request_ref: str) -> str:
    controller = settings.LINGJING_CONTROLLER
    rows = "".join(
        f'<tr><td><a href="categories/{cid}.html">{html.escape(CATEGORIES[cid].label.zh)}</a></td>'
        f"<td>{info.per_category[cid]}</td><td><a href=\"csv/{cid}.csv\">CSV</a></td></tr>"
        for cid in info.categories
    )
    body = (
        f"<h1>{html.escape(title)}</h1>"
        f"<p class=muted>生成时间：{html.escape(generated)}"
        f"{(' · 请求编号 ' + html.escape(request_ref)) if request_ref else ''}"
        f" · 个人信息处理者：{html.escape(controller['name'])}（{html.escape(controller['email'])}）</p>"
        f"<p>本副本包含我们持有的关于您的全部个人信息，共 {info.records} 项、{info.files} 个文件，按类别整理。"
        "每一项都注明了处理目的、法律依据和保存期限。</p>"
        "<table><thead><tr><th>类别</th><th>数量</th><th>表格</th></tr></thead><tbody>"
        f"{rows}</tbody></table>"
        "<h2>文件说明</h2><ul>"
        "<li><code>data.json</code>：全部数据的机器可读版本，格式见 <code>schema.json</code>（JSON Schema）。</li>"
        "<li><code>csv/</code>：每个类别一个 CSV 表格，可用电子表格软件打开。</li>"
        "<li><code>files/</code>：您的头像、作品封面、创作生成的素材与成片等文件。</li></ul>"
        "<p class=muted>请妥善保管本副本：它包含您的个人信息。下载链接 7 天后失效，服务器上的文件随即删除。</p>"
    )
    return _page(title, body)


def _readme(generated: str) -> str:
    return (
        "灵境个人信息副本\n================\n"
        f"生成时间：{generated}\n\n"
        "打开 index.html 浏览（按类别整理，注明处理目的、法律依据和保存期限）。\n"
        "data.json 是机器可读的完整数据，格式见 schema.json；csv/ 下每个类别一个表格；files/ 是您的文件。\n\n"
        "Lingjing personal data copy\n---------------------------\n"
        "Open index.html to browse (by category, with purpose, legal basis and retention of every datum).\n"
        "data.json holds everything, machine-readable (format in schema.json); csv/ has one table per category;\n"
        "files/ holds your files.\n"
    )


# --- where packages are kept ------------------------------------------------------------------------------------
# Locally under EXPORTS_DIR (0600), or, when the deployment configures an object-storage "exports" storage
# (docs/deploy.md), uploaded there after the build and removed locally.

PACKAGE_DIR = "rights"


def package_name_for(request_id: Any) -> str:
    return f"{PACKAGE_DIR}/{request_id}.zip"


def local_path(name: str) -> Path:
    return Path(settings.EXPORTS_DIR) / name


def _remote_storage() -> Any:
    """The ``exports`` storage when it is not the local folder, else None."""
    spec = getattr(settings, "STORAGES", {}).get("exports")
    if not spec or spec.get("BACKEND", "").endswith("FileSystemStorage"):
        return None
    from django.core.files.storage import storages

    return storages["exports"]


def publish(name: str) -> None:
    """Move a finished local package to the exports storage, if there is a remote one."""
    remote = _remote_storage()
    if remote is None:
        return
    path = local_path(name)
    with path.open("rb") as handle:
        remote.save(name, handle)
    path.unlink(missing_ok=True)


def open_package(name: str) -> IO[bytes]:
    remote = _remote_storage()
    if remote is not None:
        handle: IO[bytes] = remote.open(name, "rb")
        return handle
    return local_path(name).open("rb")


def delete_package(name: str) -> None:
    if not name:
        return
    remote = _remote_storage()
    if remote is not None:
        remote.delete(name)
    local_path(name).unlink(missing_ok=True)
    local_path(name + ".part").unlink(missing_ok=True)
