"""Back-in-stock requests: "email me when it is back", sent once when stock returns."""
