using AgentPlatform.Api.Agents;
using AgentPlatform.Api.Admin;
using AgentPlatform.Api.Chat;
using AgentPlatform.Api.Responses;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApiServices();

var app = builder.Build();

app.UseExceptionHandler();
// After the exception handler, so a failure while authenticating is answered in OpenAI's shape too.
app.UseAuthentication();
app.UseAuthorization();
app.MapDefaultEndpoints();
app.MapAdminApi();
app.MapChatCompletionsApi();
app.MapMessagesApi();
app.MapResponsesApi();
app.MapAgentsApi();

app.Run();
