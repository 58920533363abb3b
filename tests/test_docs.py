"""Every command is documented in the README with a section of its own."""

from pathlib import Path

from archive.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_command_has_a_readme_section_and_an_example():
    for module in COMMANDS:
        assert f"## `archive {module.NAME}`" in README, module.NAME
        assert module.EXAMPLE.startswith(("example", "examples")), module.NAME


def test_readme_starts_with_the_two_setup_commands():
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert first_block == ['python3 -m pip install -e ".[test]" && archive demo', "python3 -m pytest -q -n auto"]
    # (CI runs the README's test command itself)
    assert f"\n{first_block[1]}\n" in (ROOT / ".ci" / "run").read_text()


def test_the_collection_file_in_the_docs_is_one_the_crawl_reads(tmp_path):
    from archive.config import load_collections

    text = (ROOT / "docs" / "collections.md").read_text("utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "collections.toml"
    path.write_text(block, "utf-8")
    [collection] = load_collections(path)
    assert collection.name == "meridian" and collection.scope["deny_patterns"] == ["/live/"]
    assert collection.caps["min_free_bytes"] == 268435456 and collection.settings["storage"]["to"] == "s3://bucket/prefix"
