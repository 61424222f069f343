"""The `lab` command: click commands that parse their arguments, call the core, and turn its errors into one line
and an exit code. No logic of their own. The run, the drill and the reports (with their chart library) are imported
by the commands that use them: what a trainee types in the middle of a drill must start fast."""
