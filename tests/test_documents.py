import docx

from assistant.corpus.chunking import parse_blocks, split_sections
from assistant.corpus.documents import load_corpus


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with one line of text in a standard font (no library writes text PDFs)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_file(objects)


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF file of these objects (numbered from 1, the catalogue first), with its cross-reference table."""
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def test_every_format_loads_and_broken_files_are_skipped_with_a_reason(tmp_path):
    (tmp_path / "guide.md").write_text("---\ntitle: Guide\nurl: https://example.org/g\n---\n## Part\n\nHello there.\n")
    (tmp_path / "notes_on-grants.txt").write_text("Grants are paid yearly.\n")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Web page</title><link rel='canonical' href='https://example.org/w'></head>"
        "<body><nav>Menu</nav><h2>Steps</h2><p>Do this:</p><ul><li>One</li><li>Two</li></ul>"
        "<script>alert(1)</script></body></html>"
    )
    (tmp_path / "leaflet.pdf").write_bytes(minimal_pdf("Cyber Essentials leaflet text"))
    d = docx.Document()
    d.core_properties.title = "Word guide"
    d.add_heading("Section one", level=1)
    d.add_paragraph("A paragraph in Word.")
    d.add_paragraph("An item", style="List Bullet")
    d.save(tmp_path / "word.docx")
    (tmp_path / "empty.md").write_text("   \n")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "broken.docx").write_bytes(b"not a zip")

    result = load_corpus(tmp_path)
    by_id = {d.doc_id: d for d in result.documents}
    assert set(by_id) == {"guide.md", "notes_on-grants.txt", "page.html", "leaflet.pdf", "word.docx"}
    assert by_id["guide.md"].url == "https://example.org/g"
    assert by_id["page.html"].title == "Web page" and "## Steps" in by_id["page.html"].text
    html_blocks = parse_blocks(split_sections(by_id["page.html"].text)[0][1])
    assert html_blocks[0].intro == "Do this:" and [i.text for i in html_blocks[0].items] == ["One", "Two"]
    assert "alert" not in by_id["page.html"].text and "Menu" not in by_id["page.html"].text
    assert "Cyber Essentials leaflet text" in by_id["leaflet.pdf"].text
    assert by_id["word.docx"].title == "Word guide" and "- An item" in by_id["word.docx"].text
    # no title or URL: sensible ones, and a warning naming the file
    assert by_id["notes_on-grants.txt"].title == "Notes on grants"
    assert by_id["notes_on-grants.txt"].url == "/documents/notes_on-grants.txt"
    assert any("notes_on-grants.txt" in w for w in result.warnings)
    skipped = dict(result.skipped)
    assert set(skipped) == {"empty.md", "broken.pdf", "broken.docx"}
    assert "empty" in skipped["empty.md"]


def test_front_matter_that_is_not_valid_yaml_is_read_line_by_line(tmp_path):
    from assistant.corpus.documents import load_document

    path = tmp_path / "guide.md"
    path.write_text("---\ntitle: Safeguarding: a guide\nurl: https://example.org/s\n---\n## Why\n\nText here.\n")
    doc, _ = load_document(path, "guide.md")
    assert doc.title == "Safeguarding: a guide" and doc.url == "https://example.org/s" and "Text here." in doc.text
