"""``manage.py signals``: every live signal of the process and its receivers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import django.dispatch
from django.apps import apps
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Model

import fastdispatch


class Command(BaseCommand):
    help = (
        "List every live signal of the process and its receivers: where each "
        "receiver is defined, the sender it is limited to, whether it is held "
        "weakly, its dispatch_uid, and whether it is async. With --profile, "
        "run another command with every receiver call timed, and list the "
        "receivers that ran, most time first."
    )
    # A diagnostic tool: it must also run on a project whose checks fail.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--signal",
            metavar="NAME",
            help=(
                "only this signal: its dotted name "
                "(django.db.models.signals.post_save), or the end of it when "
                "only one signal's name ends so (post_save)"
            ),
        )
        parser.add_argument(
            "--sender",
            metavar="APP_LABEL.MODEL",
            help=(
                "only the receivers that run when this model is the sender: "
                "those limited to it and those for any sender; without "
                "--signal, signals where none would run are left out"
            ),
        )
        parser.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help=(
                "text (a table per signal, the default) or json (the schema "
                "of fastdispatch/signals.schema.json; with --profile, of "
                "fastdispatch/profile.schema.json)"
            ),
        )
        parser.add_argument(
            "--profile",
            nargs=argparse.REMAINDER,
            metavar="COMMAND [ARGS...]",
            help=(
                "run the management command COMMAND with its arguments (all "
                "that follow) in this process, every receiver call timed, "
                "then print which receivers ran and what they cost; the exit "
                "status is COMMAND's. Give this option last"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["profile"] is not None:
            self.profile(options["profile"], options["format"])
            return
        label = options["sender"]
        model = self.model(label) if label else None
        # Types apart for the type checker; the same class once the shim is in.
        django_signal: object = django.dispatch.Signal
        if django_signal is not fastdispatch.Signal:
            self.stderr.write(
                "django.dispatch uses Django's own dispatcher in this process "
                "(FASTDISPATCH_DISABLE is set, or the start-up hook of "
                "django-fastdispatch is not installed): only signals created "
                "from fastdispatch.Signal are listed."
            )
        try:
            report = fastdispatch.describe_all(name=options["signal"], sender=model)
        except fastdispatch.SignalLookupError as err:
            raise CommandError(str(err)) from err
        if options["format"] == "json":
            self.stdout.write(report.to_json())
        else:
            self.stdout.write(report.to_text(), ending="")

    def model(self, label: str) -> type[Model]:
        try:
            return apps.get_model(label)
        except ValueError as err:
            raise CommandError(
                f"unknown sender '{label}': give a model as app_label.ModelName"
            ) from err
        except LookupError as err:
            raise CommandError(f"unknown sender '{label}': {err}") from err

    def profile(self, argv: list[str], output_format: str) -> None:
        """Run the command of ``argv`` as ``manage.py`` would, recording every
        receiver call, then print the profile; exit as the command did."""
        if not argv:
            raise CommandError(
                "--profile needs a command to run: signals --profile COMMAND [ARGS...]"
            )
        name = argv[0]
        app = get_commands().get(name)
        if app is None:
            raise CommandError(f"unknown command '{name}'")
        command = app if isinstance(app, BaseCommand) else load_command_class(app, name)
        program = sys.argv[0] if sys.argv and sys.argv[0] else "manage.py"
        status: object = 0
        with fastdispatch.profiling() as profile:
            try:
                # As `manage.py COMMAND ARGS` runs it: its own parser, its
                # checks, a CommandError printed and turned into an exit.
                command.run_from_argv([program, *argv])
            except SystemExit as exit:
                status = exit.code
            finally:
                profile.stop()
                if output_format == "json":
                    self.stdout.write(profile.to_json())
                else:
                    self.stdout.write(profile.to_text(), ending="")
        if status not in (0, None):
            raise SystemExit(status)
