from hrtemlake.cli import main

main()
