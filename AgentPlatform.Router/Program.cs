using AgentPlatform.Router.Forwarding;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRouterServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapRouterApi();

app.Run();
