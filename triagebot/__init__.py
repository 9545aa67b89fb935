"""triagebot: endorsement triage for Community IT requests in Bugzilla."""

__version__ = "0.1.0"
