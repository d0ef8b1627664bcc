using AgentPlatform.Router.Admin;
using AgentPlatform.Router.Forwarding;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRouterServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapRouterApi();
app.MapDeploymentsAdminApi();

app.Run();
