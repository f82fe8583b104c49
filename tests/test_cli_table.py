"""The CLI's commands are listed in one table, cli.COMMANDS, which matches the parser exactly; every table entry
adds the one command it is named for; a user error is one `error:` line, a programming error a traceback."""

from __future__ import annotations

import argparse

import pytest

from workbench import cli


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_command_table_is_the_parser():
    assert list(_subcommands(cli.build_parser())) == list(cli.COMMANDS)


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_each_entry_adds_its_own_command_and_a_function_that_runs_it(name):
    sub = argparse.ArgumentParser().add_subparsers()
    cli.COMMANDS[name](sub)
    added = dict(sub.choices)
    assert list(added) == [name]
    parser = added[name]
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    parsers = list(nested[0].choices.values()) if nested else [parser]
    assert all(callable(p.get_default("func")) for p in parsers), name


def test_user_errors_are_one_line_and_bugs_keep_their_traceback(monkeypatch, capsys):
    from workbench.config import ConfigError

    def refuse(args):
        raise ConfigError("epochs must be positive")

    monkeypatch.setattr(cli, "build_parser", _parser_running(refuse))
    assert cli.main(["x"]) == 2 and capsys.readouterr().err == "error: epochs must be positive\n"

    def bug(args):
        return {}["missing"]

    monkeypatch.setattr(cli, "build_parser", _parser_running(bug))
    with pytest.raises(KeyError):
        cli.main(["x"])


def _parser_running(func):
    def build() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser()
        parser.add_argument("command")
        parser.set_defaults(func=func)
        return parser
    return build


def test_serve_hands_its_options_and_the_workspace_to_the_ui(monkeypatch, capsys):
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "call", lambda argv: calls.append(argv) or 0)
    assert cli.main(["--workspace", "ws", "serve", "--port", "7899", "--share"]) == 0
    assert calls[0][-5:] == ["workbench.ui.app", "--port", "7899", "--share", "--workspace", "ws"][-5:]
    assert cli.main(["serve", "--help"]) == 0 and calls[1][-1] == "--help"
    with pytest.raises(SystemExit):  # other commands still refuse options they do not know
        cli.main(["methods", "--port", "1"])
    assert "unrecognized arguments: --port" in capsys.readouterr().err
