"""`python -m synthfoundry ...`: the CLI without its installed script."""

from synthfoundry.cli import app

app(prog_name="synthfoundry")
