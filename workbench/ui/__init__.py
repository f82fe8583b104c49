"""The Gradio workbench: the only package that imports gradio. It launches jobs and reads run folders;
it trains nothing in its own process (chat is the one exception, behind a concurrency limit)."""
