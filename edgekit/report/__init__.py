"""Reports: report.json (versioned schema), report.md, and the terminal summary."""
