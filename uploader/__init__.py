"""pixgate uploader: upload API, metadata repository and storage writes (joins the proxy app)."""
