import os
from flask.sessions import SessionInterface, NullSession
from shop import create_app
class NoSessions(SessionInterface):
    def open_session(self, app, request): return None
    def make_null_session(self, app): return NullSession()
    def save_session(self, *a): pass
app = create_app({"RATELIMIT_ENABLED": os.environ.get("RL", "1") == "1"})
if os.environ.get("NOSESS") == "1":
    app.session_interface = NoSessions()
