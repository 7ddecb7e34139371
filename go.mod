module github.com/keybuzz/kbv3

go 1.26.8

require (
	github.com/go-viper/mapstructure/v2 v2.5.0 // indirect
	github.com/hetznercloud/hcloud-go/v2 v2.52.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
)
