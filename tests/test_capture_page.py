"""The landing-page JavaScript printed in the README, run as written by node against a real
uvicorn: its visit and its form reach leadgraph and stitch into one contact's journey."""

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest
from test_capture_edge import serve

from models import Contact, Interaction, Lead

README = Path(__file__).resolve().parent.parent / "README.md"
BROWSER = """
globalThis.localStorage = { m: new Map(),
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; },
  setItem(k, v) { this.m.set(k, String(v)); } };
globalThis.location = { href: "https://shop.example/solar?utm_source=google&utm_campaign=spring",
  search: "?utm_source=google&utm_campaign=spring" };
let onSubmit;
globalThis.document = { referrer: "https://search.example/",
  querySelector: () => ({ addEventListener: (_, handler) => { onSubmit = handler; } }) };
globalThis.FormData = class { constructor(form) { this.form = form; }
  *[Symbol.iterator]() { yield* Object.entries(this.form.values); } };
"""
SUBMIT = """
setTimeout(async () => {
  await onSubmit({ preventDefault() {}, target: { values: {
    email: "Ada@Example.com", firstName: "Ada", lastName: "Lovelace", company: "Acme",
    budget: "10k" } } });
  console.log("submitted");
}, 1000);
"""


def page_script() -> str:
    text = README.read_text()
    match = re.search(r"```html\n<script>\n(.*?)</script>\n```", text, re.S)
    assert match, "the README shows no landing-page script"
    return match.group(1)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
async def test_the_readme_page_script_works(tenant, settings, tmp_path):
    secret = (
        await tenant.mutate(
            "createApiKey", {"name": "page", "role": "CAPTURE"}, "secret apiKey { id }"
        )
    )["secret"]
    url, process = await serve(settings)
    script = page_script()
    assert '"https://api.example.com/graphql"' in script and '"lg_…"' in script
    script = script.replace('"https://api.example.com/graphql"', json.dumps(f"{url}/graphql"))
    script = script.replace('"lg_…"', json.dumps(secret))
    path = tmp_path / "page.mjs"
    path.write_text(BROWSER + script + SUBMIT)
    try:
        node = await asyncio.create_subprocess_exec(
            "node",
            str(path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(node.communicate(), timeout=60)
    finally:
        process.terminate()
        await process.wait()
    assert node.returncode == 0 and b"submitted" in output, output
    contact = await Contact.get()
    assert (contact.email, contact.first_name, contact.last_name) == (
        "Ada@Example.com",
        "Ada",
        "Lovelace",
    )
    lead = await Lead.get()
    assert (lead.topic, lead.source) == ("Solar panels", "google")
    visit = await Interaction.get(type="PAGE_VISITED")
    assert visit.metadata["utm"] == {"source": "google", "campaign": "spring"}
    assert visit.metadata["referrer"] == "https://search.example/"
    form = await Interaction.get(type="FORM_SUBMITTED")
    assert form.metadata["fields"] == {"budget": "10k"}
    assert form.metadata["submitted"]["companyName"] == "Acme"
