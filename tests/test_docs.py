"""Every command is documented in the README with a section of its own."""

from pathlib import Path

from archive.cli import COMMANDS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_command_has_a_readme_section_and_an_example():
    for module in COMMANDS:
        assert f"## `archive {module.NAME}`" in README, module.NAME
        assert module.EXAMPLE.startswith(("example", "examples")), module.NAME


def test_readme_starts_with_the_two_setup_commands():
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert first_block == ['python3 -m pip install -e ".[test]" && archive demo', "python3 -m pytest -q"]
