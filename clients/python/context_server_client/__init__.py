"""asyncio client for the context server: live, token-budgeted context shared by AI agents."""
from .backoff import Backoff
from .client import ContextClient
from .errors import ContextError
from .types import Change, ClearResult, Entry, Metadata, PriorityResult, QueryResult, WriteAck

__all__ = ["Backoff", "Change", "ClearResult", "ContextClient", "ContextError", "Entry", "Metadata",
           "PriorityResult", "QueryResult", "WriteAck"]
__version__ = "0.1.0"
