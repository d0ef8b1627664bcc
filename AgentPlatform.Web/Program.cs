using AgentPlatform.Web.Components;
using AgentPlatform.Web.Platform;
using AgentPlatform.Web.SignIn;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWebServices();

var app = builder.Build();

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/error", createScopeForErrors: true);
}
app.UseConsoleHeaders();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();
app.MapStaticAssets();
app.MapDefaultEndpoints();
app.MapConsoleSignIn();
app.MapUsageExport();
// Every page needs a signed-in operator, but the sign-in page itself ([AllowAnonymous]).
app.MapRazorComponents<App>()
    .AddInteractiveServerRenderMode(options => options.ContentSecurityFrameAncestorsPolicy = "'none'")
    .RequireAuthorization();

app.Run();
