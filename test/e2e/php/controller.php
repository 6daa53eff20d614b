<?php
/**
 * Runs one action of the seed's RestfulApi controller, as ThinkPHP would for
 * a JSON POST, and prints what it returns as JSON:
 *
 *     IM_API_KEY=... IM_GATEWAY_URL=http://127.0.0.1:8787/api/v1/gateway \
 *       php controller.php sendMsg '{"message": {...}}'
 *
 * The controller's constructor sets the production register address
 * (https://im.example.com/api/v1/gateway); IM_GATEWAY_URL then points it at
 * the test's server, as a hosts-file entry would. Nothing else is changed.
 * An exception is left uncaught: php prints it and exits 255.
 */

require __DIR__ . '/bootstrap.php';

use app\workerman\controller\RestfulApi;
use GatewayClient\Gateway;

$action = isset($argv[1]) ? $argv[1] : harness_fail('usage: controller.php <action> <JSON body>');
$_POST = harness_json_arg(2);

$controller = new RestfulApi();
if (Gateway::$registerAddress !== 'https://im.example.com/api/v1/gateway') {
    harness_fail('the controller no longer sets the production register address: ' . var_export(Gateway::$registerAddress, true));
}
if (getenv('IM_GATEWAY_URL')) {
    Gateway::$registerAddress = getenv('IM_GATEWAY_URL');
}
echo json_encode($controller->$action(), JSON_UNESCAPED_UNICODE), "\n";
