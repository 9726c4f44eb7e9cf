"""Model servers behind one interface: ``Backend.send(request, timeout=...) -> ChatResult``."""
