"""Documents built to exhaust a server, made here: small on disk, huge once unpacked."""

from __future__ import annotations

import io
import zipfile
import zlib

import docx

from tests.test_documents import pdf_file

PARAGRAPH = b"<w:p><w:r><w:t>Volunteers may claim expenses for travel.</w:t></w:r></w:p>"


def docx_bomb(unpacked_mb: int, numbered: bool = False) -> bytes:
    """A real Word file whose document.xml unpacks to about `unpacked_mb` MB of paragraphs: the same
    one repeated (packs about 1000 to 1), or numbered ones (about 30 to 1, as a very long real
    document could)."""
    base = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("A small document.")
    d.save(base)
    out = io.BytesIO()
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for item in src.infolist():
            if item.filename != "word/document.xml":
                dst.writestr(item, src.read(item.filename))
                continue
            xml = src.read(item.filename)
            head, _, tail = xml.partition(b"<w:body>")
            block = PARAGRAPH * (1_000_000 // len(PARAGRAPH))
            with dst.open("word/document.xml", "w", force_zip64=True) as part:
                part.write(head + b"<w:body>")
                for mb in range(unpacked_mb):
                    if numbered:
                        block = b"".join(
                            b"<w:p><w:r><w:t>Volunteers may claim expenses, rule %d.</w:t></w:r></w:p>"
                            % (mb * 20000 + i)
                            for i in range(15000)
                        )
                    part.write(block)
                part.write(tail)
    return out.getvalue()


def pdf_bomb(unpacked_mb: float, pages: int = 1) -> bytes:
    """A PDF of `pages` pages that all draw one content stream (FlateDecode) unpacking to about
    `unpacked_mb` MB of text-drawing operators: a few hundred KB on disk, minutes of parsing."""
    ops = b"BT /F1 12 Tf 72 720 Td (Volunteers may claim expenses) Tj ET\n"
    stream = zlib.compress(ops * int(unpacked_mb * 1_000_000 / len(ops)), 9)
    kids = " ".join(f"{5 + i} 0 R" for i in range(pages)).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>"
    objects += [page] * pages
    return pdf_file(objects)
