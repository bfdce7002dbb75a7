"""Reports for the back office: sales over a period."""
