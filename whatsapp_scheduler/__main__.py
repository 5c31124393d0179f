"""`python -m whatsapp_scheduler` is the `whatsapp-scheduler` command."""

from whatsapp_scheduler.cli import main

if __name__ == "__main__":
    main()
