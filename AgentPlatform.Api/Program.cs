using AgentPlatform.Api.Agents;
using AgentPlatform.Api.Admin;
using AgentPlatform.Api.Chat;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApiServices();

var app = builder.Build();

app.UseExceptionHandler();
app.MapDefaultEndpoints();
app.MapAdminApi();
app.MapChatCompletionsApi();
app.MapAgentsApi();

app.Run();
