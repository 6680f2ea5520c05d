from heedful.cli.main import main

main()
