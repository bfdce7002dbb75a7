from flask import Flask, Response
app = Flask(__name__)
BODY = open("/tmp/prof/page.json", "rb").read()
@app.get("/big")
def big():
    return Response(BODY, mimetype="application/json")
@app.get("/bare")
def bare():
    return {"items": [{"slug": "moist-hyaluronic-acid-serum", "price": {"amount": 3200, "currency": "GBP"}}], "page": 1, "per_page": 1, "total": 1}
