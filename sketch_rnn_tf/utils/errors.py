"""The error a user's input causes (as opposed to a bug).

The command lines report an InputError (and a missing or unreadable file, an
OSError) as one line naming the file or flag and what is wrong, with exit
status 2; anything else is a bug and keeps its traceback.
"""


class InputError(ValueError):
  """Something the user gave (a file, a record, a flag value) is wrong; the message says
  which and why."""
