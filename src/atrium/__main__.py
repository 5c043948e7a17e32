from atrium.cli import main

raise SystemExit(main())
