"""HTTP edge: the FastAPI app, one router per resource, schemas, auth and the error envelope."""
