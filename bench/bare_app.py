"""The ceiling: a bare Flask app returning a small JSON document, served like the shop."""

from flask import Flask

app = Flask(__name__)
DOCUMENT = {
    "items": [{"slug": "moist-hyaluronic-acid-serum",
               "price": {"amount": 3200, "currency": "GBP"}}],
    "page": 1, "per_page": 1, "total": 1,
}


@app.get("/bare")
def bare():
    return DOCUMENT
