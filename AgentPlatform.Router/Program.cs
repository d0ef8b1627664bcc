using AgentPlatform.Router.Access;
using AgentPlatform.Router.Admin;
using AgentPlatform.Router.Forwarding;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRouterServices();

var app = builder.Build();

app.UseMiddleware<InternalKeyMiddleware>();
app.MapDefaultEndpoints();
app.MapRouterApi();
app.MapDeploymentsAdminApi();

app.Run();
