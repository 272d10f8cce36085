"""Server-rendered console pages under /console."""
