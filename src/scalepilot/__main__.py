from scalepilot.faces.cli.main import main

main()
