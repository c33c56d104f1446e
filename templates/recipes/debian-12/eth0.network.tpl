# eth0 by DHCP (written by lxm from the image's templates at {{ trigger }}).
[Match]
Name=eth0

[Network]
DHCP=yes

[DHCPv4]
UseDomains=true
