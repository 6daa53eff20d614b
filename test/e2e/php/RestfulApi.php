<?php


namespace app\workerman\controller;

use app\BaseController;
use GatewayClient\Gateway;
use think\facade\Db;

class RestfulApi extends BaseController
{
public function __construct()
{
Gateway::$registerAddress = 'https://im.example.com/api/v1/gateway';
}
public function sendMsg(){
$message=input('post.message');
// 向任意uid发送数据
Gateway::sendToUid($message['toUid'], json_encode($message));
return success('发送成功',$message);
}
public function sendGroupMsg(){
$message=input('post.message');
$client_id_array=Gateway::getClientIdByUid($message['fromUid']);
Gateway::sendToGroup($message['toUid'],json_encode($message),$client_id_array[0]);//一定要排除自己
return success('发送成功',$message);
}
}